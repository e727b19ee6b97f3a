/* When a nats.c connection writes: the three choices (nats.flush).
 *
 *   timer  nats.c's own: publishes fill a buffer that its flusher thread
 *          writes about 1 ms after the first one (a fixed ~1 ms added to
 *          every publish->ack at low rates).
 *   asap   natsOptions_SetSendAsap: one write() per publish, in the caller.
 *   burst  this module: the connection runs on a small epoll loop of ours
 *          (nats.c's external event loop API, the one its libuv/libevent
 *          adapters use). A thread that declared itself a burst writer
 *          (mdm_nats_loop_defer) only appends to nats.c's buffer and writes
 *          it once, at the end of its burst (mdm_nats_loop_flush): one
 *          write per burst, none per message, no timer. Writes from any
 *          other thread (JetStream API requests, PONGs, resends) are made
 *          at once by the loop thread, which also does all the reading.
 *
 * A deferring thread must call mdm_nats_loop_flush before it waits for
 * anything (acks, a full window, an idle sleep): what it appended is not on
 * the wire until then. So it only publishes asynchronously: a request it
 * made (a JetStream API call) would wait for an answer to a question not yet
 * asked; it turns deferring off first. */
#ifndef MDM_NATS_LOOP_H
#define MDM_NATS_LOOP_H

#include <stdbool.h>

#include <nats/nats.h>

#include "mdm_bus.h" /* enum mdm_nats_flush */

/* "timer", "asap", "burst" (the config's names, in enum order), NULL. */
extern const char *const mdm_nats_flush_names[];

struct mdm_nats_loop;

/* Start the loop thread. 0, or -errno with the message set. */
int mdm_nats_loop_create(struct mdm_nats_loop **out);

/* Put the connection these options make on the loop (sets SendAsap too:
 * each publish asks for a write, the loop or the deferring thread makes it).
 * One connection per loop. */
natsStatus mdm_nats_loop_options(struct mdm_nats_loop *l, natsOptions *o);

/* This thread's publishes on the loop's connection are written by
 * mdm_nats_loop_flush, not at once (on = false: at once again). */
void mdm_nats_loop_defer(struct mdm_nats_loop *l, bool on);

/* Write what this thread appended (no-op when nothing is pending or the
 * connection is down: reconnecting, nats.c keeps it in its pending buffer). */
void mdm_nats_loop_flush(struct mdm_nats_loop *l);

/* Stop the loop thread and free. Call after natsConnection_Close (the close
 * waits for a PONG the loop reads) and before natsConnection_Destroy. */
void mdm_nats_loop_destroy(struct mdm_nats_loop *l);

#endif
