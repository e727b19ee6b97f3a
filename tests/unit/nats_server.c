/* nats_server — see nats_server.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mdm_bus.h"
#include "mdm_clock.h"
#include "mdm_err.h"
#include "nats_server.h"

int nts_free_port(void)
{
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM, 0), port = 20000 + (int)(mdm_mono_ns() % 12000);
		bool ok;

		assert_true(fd >= 0);
		a.sin_port = htons((uint16_t)port);
		ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return port;
	}
	fail_msg("no free port in 20000-31999");
	return -1;
}

bool nts_port_accepts(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(fd);
	return ok;
}

/* The nats-server to run, picked as scripts/lib/nats.sh picks it for the
 * shell tests: MDM_NATS_SERVER, else <source>/.tools/bin/nats-server when
 * present, else "nats-server" on PATH. Logged once with its version. */
static const char *nts_binary(void)
{
	static char path[512];
	static bool logged;
	const char *env = getenv("MDM_NATS_SERVER"), *src = getenv("MDM_SRC_DIR");

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else if (src && snprintf(path, sizeof(path), "%s/.tools/bin/nats-server", src) < (int)sizeof(path) &&
		 access(path, X_OK) == 0)
		;
	else
		snprintf(path, sizeof(path), "nats-server");
	if (!logged) {
		char cmd[600], line[128] = "unknown";
		FILE *f;

		logged = true;
		snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", path);
		f = popen(cmd, "r");
		if (f) {
			if (!fgets(line, sizeof(line), f))
				snprintf(line, sizeof(line), "unknown");
			pclose(f);
		}
		line[strcspn(line, "\n")] = 0;
		fprintf(stderr, "nats_server: %s (%s)\n", line, path);
	}
	return path;
}

static void nts_exec(const struct nts_server *s, const char *bin)
{
	char port[16], store[160], log[160];
	const char *argv[16];
	int i = 0, fd;

	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(store, sizeof(store), "%s/store", s->dir);
	snprintf(log, sizeof(log), "%s/server.log", s->dir);
	/* Never outlive the test, even when it crashes. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	argv[i++] = bin;
	argv[i++] = "-a";
	argv[i++] = "127.0.0.1";
	argv[i++] = "-p";
	argv[i++] = port;
	if (s->js) {
		argv[i++] = "-js";
		argv[i++] = "-sd";
		argv[i++] = store;
	}
	if (s->user) {
		argv[i++] = "--user";
		argv[i++] = s->user;
		argv[i++] = "--pass";
		argv[i++] = s->pass;
	}
	argv[i] = NULL;
	execvp(bin, (char *const *)argv);
	_exit(127);
}

/* Start (or restart, same port and dir) and wait until the port accepts. */
void nts_run(struct nts_server *s)
{
	uint64_t deadline = mdm_mono_ns() + 10 * MDM_NS_PER_S;
	const char *bin = nts_binary();
	int status;

	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0)
		nts_exec(s, bin);
	while (!nts_port_accepts(s->port)) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
				nts_stop(s); /* nothing to keep: exec failed */
				fail_msg("cannot run nats-server '%s': not installed or not in PATH "
					 "(scripts/test installs it; MDM_NATS_SERVER picks another)", bin);
			}
			fail_msg("nats-server exited with status %d before accepting on port %d (see %s/server.log)",
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1, s->port, s->dir);
		}
		if (mdm_mono_ns() > deadline)
			fail_msg("nats-server not accepting on port %d after 10 s", s->port);
		mdm_sleep_ns(20 * MDM_NS_PER_MS);
	}
}

void nts_start(struct nts_server *s, const char *tag, bool js, const char *user, const char *pass)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/%s.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag);
	assert_non_null(mkdtemp(s->dir));
	s->port = nts_free_port();
	s->js = js;
	s->user = user;
	s->pass = pass;
	nts_run(s);
}

void nts_signal_wait(struct nts_server *s, int sig)
{
	uint64_t deadline = mdm_mono_ns() + 5 * MDM_NS_PER_S;

	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	kill(s->pid, SIGCONT); /* a frozen server left by a failed test must still exit */
	while (waitpid(s->pid, NULL, WNOHANG) != s->pid) {
		if (mdm_mono_ns() > deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			break;
		}
		mdm_sleep_ns(10 * MDM_NS_PER_MS);
	}
	s->pid = 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void nts_stop(struct nts_server *s)
{
	nts_signal_wait(s, SIGTERM);
	if (s->dir[0] && !getenv("MDM_TEST_KEEP"))
		nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

void nts_url(const struct nts_server *s, char *buf, size_t len)
{
	snprintf(buf, len, "nats://127.0.0.1:%d", s->port);
}

struct mdm_bus *nts_bus_open(const struct nts_server *s, struct mdm_bus_params *p)
{
	struct mdm_bus_params def;
	struct mdm_bus *bus = NULL;
	char url[64];
	int rc;

	if (!p) {
		mdm_bus_params_init(&def);
		p = &def;
	}
	nts_url(s, url, sizeof(url));
	p->urls = url;
	rc = mdm_bus_create(&bus, p);
	if (rc != 0)
		fail_msg("mdm_bus_create: %d %s", rc, mdm_err_last());
	return bus;
}
