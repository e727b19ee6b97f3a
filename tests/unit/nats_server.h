/* nats_server — a child nats-server for tests that need a real one.
 *
 * Each server runs on a free loopback port with its own temp dir (server.log
 * and, with JetStream, the store). Every call reports trouble through cmocka
 * (fail_msg / assert_*), so it may only be called from inside a cmocka test,
 * setup or teardown. Not thread-safe: one test thread drives a server. */
#ifndef MDM_TESTS_NATS_SERVER_H
#define MDM_TESTS_NATS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct mdm_bus;
struct mdm_bus_params;

/* One server. Fields are read-only outside nats_server.c; pid is 0 while the
 * server is not running. */
struct nts_server {
	pid_t pid;
	int port;
	bool js;
	const char *user, *pass; /* not copied: must outlive the server */
	char dir[128];           /* mkdtemp: server.log and the JetStream store */
};

/* A loopback port in 20000-31999 that binds now, below Linux's ephemeral
 * range (32768+): a reconnecting client can then never be handed the
 * server's port as its own source port (TCP self-connect) while the server
 * is down. Fails the test when none is found. */
int nts_free_port(void);

/* True when something accepts TCP connections on 127.0.0.1:port. */
bool nts_port_accepts(int port);

/* Start a new server: zero *s, make the temp dir $TMPDIR/<tag>.XXXXXX (tag is
 * e.g. "mdm-bus-test"), pick a free port, run it (nts_run). js enables
 * JetStream; user/pass (both or neither, may be NULL) require that login. */
void nts_start(struct nts_server *s, const char *tag, bool js, const char *user, const char *pass);

/* Start (or restart, same port and dir) and wait up to 10 s until the port
 * accepts. The child gets SIGKILL when the test process dies. Fails the test
 * when nats-server is missing, exits early or never accepts. */
void nts_run(struct nts_server *s);

/* Send sig (plus SIGCONT, so a frozen server still exits) and reap the
 * process, escalating to SIGKILL after 5 s. Keeps port and dir, so nts_run
 * can restart it. No-op when not running. */
void nts_signal_wait(struct nts_server *s, int sig);

/* SIGTERM, reap, and remove the temp dir (kept when MDM_TEST_KEEP is set).
 * Safe on a server that is stopped or was never started (zeroed). */
void nts_stop(struct nts_server *s);

/* "nats://127.0.0.1:<port>" into buf (len bytes, truncated to fit). */
void nts_url(const struct nts_server *s, char *buf, size_t len);

/* mdm_bus_create against s. p may be NULL for mdm_bus_params_init defaults;
 * otherwise p->urls is overwritten with a pointer that is only valid during
 * this call. Fails the test when the create fails. The caller owns the bus. */
struct mdm_bus *nts_bus_open(const struct nts_server *s, struct mdm_bus_params *p);

#endif
