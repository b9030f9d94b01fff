/* ZeroMQ PUSH/PULL over ipc://, as its C users write it: zmq_send (which
 * copies the caller's buffer into a message) and zmq_msg_recv (the message is
 * read in place, no copy into the caller's buffer). Each receiver binds its
 * own endpoint and each sender connects to all of them; PUSH hands messages
 * round-robin to the receivers. The high-water marks (1000 messages by
 * default) are capped so that each side queues at most 128 MiB, or 64 MiB
 * messages would queue 64 GiB. A sender's close waits until all it sent has
 * left (ZMQ_LINGER -1, the default). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "peer.h"

typedef struct {
  char path[512];
  uint32_t size;
  int receivers;
} zmq_chan;

typedef struct {
  void *ctx, *sock;
  zmq_msg_t msg; /* a receiver's last message */
} zmq_end;

static void check(int rc, const char *what) {
  if (rc == -1) {
    fprintf(stderr, "%s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(2);
  }
}

static void *zmq_create(const char *path, uint32_t size, int senders, int receivers,
                        const char **na, char *note, size_t note_cap) {
  (void)senders, (void)na, (void)note, (void)note_cap;
  zmq_chan *c = malloc(sizeof *c);
  if (!c) bench_die("malloc");
  snprintf(c->path, sizeof c->path, "%s", path);
  c->size = size;
  c->receivers = receivers;
  return c;
}

static void *zmq_open_end(void *chan, int sending, int index) {
  zmq_chan *c = chan;
  zmq_end *e = malloc(sizeof *e);
  char endpoint[600];
  if (!e) bench_die("malloc");
  e->ctx = zmq_ctx_new();
  if (!e->ctx) bench_die("zmq_ctx_new");
  e->sock = zmq_socket(e->ctx, sending ? ZMQ_PUSH : ZMQ_PULL);
  if (!e->sock) check(-1, "zmq_socket");
  int hwm = (int)((128u << 20) / c->size);
  if (hwm > 1000) hwm = 1000;
  if (hwm < 1) hwm = 1;
  check(zmq_setsockopt(e->sock, sending ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm, sizeof hwm), "hwm");
  if (sending) {
    for (int r = 0; r < c->receivers; ++r) {
      snprintf(endpoint, sizeof endpoint, "ipc://%s-%d", c->path, r);
      check(zmq_connect(e->sock, endpoint), "zmq_connect");
    }
  } else {
    snprintf(endpoint, sizeof endpoint, "ipc://%s-%d", c->path, index);
    check(zmq_bind(e->sock, endpoint), "zmq_bind");
    check(zmq_msg_init(&e->msg), "zmq_msg_init");
  }
  return e;
}

static void zmq_send_one(void *end, const void *msg, uint32_t len) {
  check(zmq_send(((zmq_end *)end)->sock, msg, len, 0), "zmq_send");
}

static const void *zmq_recv_one(void *end, void *buf, uint32_t cap, uint32_t *len) {
  (void)buf, (void)cap;
  zmq_end *e = end;
  int n;
  while ((n = zmq_msg_recv(&e->msg, e->sock, 0)) == -1 && zmq_errno() == EINTR) {
  }
  check(n, "zmq_msg_recv");
  *len = (uint32_t)n;
  return zmq_msg_data(&e->msg);
}

static void zmq_close_end(void *end) {
  zmq_end *e = end;
  zmq_close(e->sock);
  zmq_ctx_term(e->ctx); /* waits, with the default linger, until every message has left */
  free(e);
}

static void zmq_destroy(void *chan) {
  free(chan);
} /* the receivers' endpoints go with the run's directory */

const bench_peer bench_peer_zmq = {"ZeroMQ",     zmq_create,    zmq_open_end, zmq_send_one,
                                   zmq_recv_one, zmq_close_end, zmq_destroy,  NULL};
