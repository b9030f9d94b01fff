/* fq over RabbitMQ against librabbitmq used directly: the broker comparison
 * (issue 10, "Speed"; bench/README.md, "Over a broker"). The broker's URL is
 * FQ_BROKER, which run.py --broker sets (it starts a private node with
 * tests/broker/with_rabbitmq.sh unless FQ_BROKER is already set).
 *
 * "fq (broker)" is fq's C API as its users call it over a broker:
 * fq_open_opts with fq_opts.broker, fq_send, fq_recv into the caller's buffer.
 *
 * "librabbitmq" does what fq does per call, directly, so that the difference
 * is fq's own cost (core/broker_transport.cpp, broker_connection.cpp):
 *   - the queue: durable, x-queue-type=quorum, with the arguments fq's
 *     FQ_CREATE gives it for the default room (x-dead-letter-exchange "",
 *     x-dead-letter-routing-key NAME.dlq, x-max-length 65535,
 *     x-max-length-bytes 256 MiB, x-overflow reject-publish), so the broker
 *     does the same work per message;
 *   - the connection: one, frame size AMQP_DEFAULT_FRAME_SIZE, heartbeats
 *     off, channel 1 in confirm mode for publishes and deliveries;
 *   - send: basic.publish to the default exchange, routing key NAME,
 *     persistent, mandatory, then wait for that publish's basic.ack before
 *     the next (a basic.return is an error; a basic.nack, the queue full, is
 *     published again after 1 ms doubling to 32 ms, as fq waits for room);
 *   - receive: basic.get without no-ack, the content copied into the
 *     caller's buffer, then basic.ack (not waited for: the ack has no
 *     reply); an empty queue is polled after 1 ms, doubling to 32 ms, as fq
 *     does. fq reads each body into a buffer of its own and copies it into
 *     the caller's; this peer reads it into the caller's buffer at once: that
 *     copy is part of what fq costs.
 * What fq does and this peer does not: a mutex and held signals around each
 * call, its envelope check on every delivery (no headers: attempts 1), the
 * lease bookkeeping, TCP keepalive options and a bound per round trip
 * (amqp_set_rpc_timeout), all per call and none a round trip. */
#define _GNU_SOURCE
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <fq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer.h"

enum { CHANNEL = 1, MAX_PAUSE_MS = 32 };

static const char *broker_url(void) {
  const char *url = getenv("FQ_BROKER");
  if (!url || !*url) {
    fprintf(stderr,
            "FQ_BROKER is not set: the broker peers need a RabbitMQ node "
            "(bench/run.py --broker starts one)\n");
    exit(2);
  }
  return url;
}

static void pause_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&t, NULL);
}

/* ---- fq, its queue on the broker ---- */

typedef struct {
  char name[512];
  fq_queue *keeper; /* as the FIFO peer: one handle open for the whole run */
} fqb_chan;

static fq_queue *fqb_open(const char *name, int flags) {
  fq_opts o = FQ_OPTS_INIT;
  fq_queue *q;
  o.broker = broker_url();
  int rc = fq_open_opts(name, flags, &o, &q);
  if (rc != 0) bench_die_fq(name, rc);
  return q;
}

static void *fqb_create(const char *path, uint32_t size, int senders, int receivers,
                        const char **na, char *note, size_t note_cap) {
  (void)size, (void)senders, (void)receivers, (void)na, (void)note, (void)note_cap;
  fqb_chan *c = calloc(1, sizeof *c);
  if (!c) bench_die("calloc");
  snprintf(c->name, sizeof c->name, "%s", path); /* a fresh name: the queue's, on the broker */
  c->keeper = fqb_open(c->name, FQ_READ | FQ_WRITE | FQ_CREATE);
  return c;
}

static void *fqb_open_end(void *chan, int sending, int index) {
  (void)index;
  return fqb_open(((fqb_chan *)chan)->name, sending ? FQ_WRITE : FQ_READ);
}

static void fqb_send(void *end, const void *msg, uint32_t len) {
  int rc = fq_send(end, msg, len);
  if (rc != 0) bench_die_fq("fq_send", rc);
}

static const void *fqb_recv(void *end, void *buf, uint32_t cap, uint32_t *len) {
  size_t n;
  int rc = fq_recv(end, buf, cap, &n);
  if (rc != 0) bench_die_fq("fq_recv", rc);
  *len = (uint32_t)n;
  return buf;
}

static void fqb_close_end(void *end) { fq_close(end); }

static void fqb_destroy(void *chan) {
  fqb_chan *c = chan;
  fq_close(c->keeper);
  int rc = fq_unlink(c->name); /* FQ_BROKER is set (broker_url): the queue on the broker */
  if (rc != 0) fprintf(stderr, "fq_unlink %s: %s\n", c->name, fq_strerror(rc));
  free(c);
}

const bench_peer bench_peer_fq_broker = {"fq (broker)", fqb_create,    fqb_open_end, fqb_send,
                                         fqb_recv,      fqb_close_end, fqb_destroy,  NULL};

/* ---- librabbitmq, directly ---- */

typedef struct {
  char name[512];
} rmq_chan;

typedef struct {
  amqp_connection_state_t conn;
  amqp_bytes_t queue;
  uint64_t published; /* delivery tags of our publishes, in confirm mode */
} rmq_end;

static void rmq_check(amqp_rpc_reply_t r, const char *what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
    fprintf(stderr, "%s: %s\n", what, amqp_error_string2(r.library_error));
  else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
           r.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
    fprintf(stderr, "%s: channel closed by the broker, code %u\n", what,
            ((amqp_channel_close_t *)r.reply.decoded)->reply_code);
  else
    fprintf(stderr, "%s: failed (reply type %d)\n", what, (int)r.reply_type);
  exit(2);
}

static void rmq_status(int status, const char *what) {
  if (status == AMQP_STATUS_OK) return;
  fprintf(stderr, "%s: %s\n", what, amqp_error_string2(status));
  exit(2);
}

/* One connection, channel 1 in confirm mode, as BrokerConnection::connect. */
static amqp_connection_state_t rmq_connect(void) {
  char *url = strdup(broker_url()); /* amqp_parse_url cuts it up */
  struct amqp_connection_info info;
  if (!url) bench_die("strdup");
  amqp_default_connection_info(&info);
  if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) {
    fprintf(stderr, "FQ_BROKER: not an AMQP URI\n");
    exit(2);
  }
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t *sock = conn ? amqp_tcp_socket_new(conn) : NULL;
  if (!sock) bench_die("amqp_tcp_socket_new");
  rmq_status(amqp_socket_open(sock, info.host, info.port), "amqp_socket_open");
  rmq_check(amqp_login(conn, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                       info.user, info.password),
            "amqp_login");
  free(url);
  amqp_channel_open(conn, CHANNEL);
  rmq_check(amqp_get_rpc_reply(conn), "channel.open");
  amqp_confirm_select(conn, CHANNEL);
  rmq_check(amqp_get_rpc_reply(conn), "confirm.select");
  return conn;
}

static void rmq_disconnect(amqp_connection_state_t conn) {
  amqp_channel_close(conn, CHANNEL, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
}

static amqp_table_entry_t text_arg(const char *key, const char *value) {
  amqp_table_entry_t e;
  memset(&e, 0, sizeof e);
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes(value);
  return e;
}

static amqp_table_entry_t int_arg(const char *key, int64_t v) {
  amqp_table_entry_t e;
  memset(&e, 0, sizeof e);
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = v;
  return e;
}

static void *rmq_create(const char *path, uint32_t size, int senders, int receivers,
                        const char **na, char *note, size_t note_cap) {
  (void)size, (void)senders, (void)receivers, (void)na, (void)note, (void)note_cap;
  rmq_chan *c = calloc(1, sizeof *c);
  char dlq[520];
  if (!c) bench_die("calloc");
  snprintf(c->name, sizeof c->name, "%s", path);
  snprintf(dlq, sizeof dlq, "%s.dlq", path);
  /* What BrokerTransport::main_args declares for fq's default room. */
  amqp_table_entry_t args[] = {
      text_arg("x-queue-type", "quorum"),         text_arg("x-dead-letter-exchange", ""),
      text_arg("x-dead-letter-routing-key", dlq), int_arg("x-max-length", 65536 - 1),
      int_arg("x-max-length-bytes", 256ll << 20), text_arg("x-overflow", "reject-publish"),
  };
  amqp_table_t table = {(int)(sizeof args / sizeof args[0]), args};
  amqp_connection_state_t conn = rmq_connect();
  amqp_queue_declare(conn, CHANNEL, amqp_cstring_bytes(c->name), 0, 1, 0, 0, table);
  rmq_check(amqp_get_rpc_reply(conn), "queue.declare");
  rmq_disconnect(conn);
  return c;
}

static void *rmq_open(void *chan, int sending, int index) {
  (void)sending, (void)index;
  rmq_end *e = calloc(1, sizeof *e);
  if (!e) bench_die("calloc");
  e->conn = rmq_connect();
  e->queue = amqp_cstring_bytes(((rmq_chan *)chan)->name);
  return e;
}

/* Publishes and waits for the broker's answer to this publish: 1 acked, 0
 * nacked (the queue is full). */
static int rmq_publish(rmq_end *e, const void *msg, uint32_t len) {
  amqp_basic_properties_t props;
  memset(&props, 0, sizeof props);
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  const uint64_t tag = ++e->published;
  amqp_bytes_t body = {len, (void *)msg};
  rmq_status(amqp_basic_publish(e->conn, CHANNEL, amqp_empty_bytes, e->queue, 1, 0, &props, body),
             "basic.publish");
  for (;;) {
    amqp_frame_t f;
    rmq_status(amqp_simple_wait_frame(e->conn, &f), "waiting for the confirm");
    if (f.frame_type != AMQP_FRAME_METHOD) continue;
    if (f.payload.method.id == AMQP_BASIC_RETURN_METHOD) {
      fprintf(stderr, "basic.publish: returned, the queue is gone\n");
      exit(2);
    }
    if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      const amqp_basic_ack_t *a = f.payload.method.decoded;
      if (a->delivery_tag == tag || (a->multiple && a->delivery_tag >= tag)) {
        amqp_maybe_release_buffers(e->conn);
        return 1;
      }
    } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      const amqp_basic_nack_t *n = f.payload.method.decoded;
      if (n->delivery_tag == tag || (n->multiple && n->delivery_tag >= tag)) {
        amqp_maybe_release_buffers(e->conn);
        return 0;
      }
    } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
               f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      fprintf(stderr, "basic.publish: closed by the broker\n");
      exit(2);
    }
  }
}

static void rmq_send(void *end, const void *msg, uint32_t len) {
  for (int pause = 1; !rmq_publish(end, msg, len);
       pause = pause * 2 < MAX_PAUSE_MS ? pause * 2 : MAX_PAUSE_MS)
    pause_ms(pause); /* full: wait for room, as fq does */
}

static const void *rmq_recv(void *end, void *buf, uint32_t cap, uint32_t *len) {
  rmq_end *e = end;
  amqp_rpc_reply_t r;
  for (int pause = 1;; pause = pause * 2 < MAX_PAUSE_MS ? pause * 2 : MAX_PAUSE_MS) {
    r = amqp_basic_get(e->conn, CHANNEL, e->queue, 0);
    rmq_check(r, "basic.get");
    if (r.reply.id != AMQP_BASIC_GET_EMPTY_METHOD) break;
    pause_ms(pause);
  }
  const uint64_t tag = ((amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
  amqp_frame_t f;
  rmq_status(amqp_simple_wait_frame(e->conn, &f), "reading a delivery");
  if (f.frame_type != AMQP_FRAME_HEADER || f.payload.properties.body_size > cap) {
    fprintf(stderr, "basic.get: not a header, or a body larger than %u bytes\n", cap);
    exit(2);
  }
  const size_t size = (size_t)f.payload.properties.body_size;
  for (size_t got = 0; got < size;) {
    rmq_status(amqp_simple_wait_frame(e->conn, &f), "reading a delivery");
    if (f.frame_type != AMQP_FRAME_BODY || f.payload.body_fragment.len > size - got) {
      fprintf(stderr, "basic.get: a body frame out of place\n");
      exit(2);
    }
    memcpy((char *)buf + got, f.payload.body_fragment.bytes, f.payload.body_fragment.len);
    got += f.payload.body_fragment.len;
  }
  amqp_maybe_release_buffers(e->conn);
  rmq_status(amqp_basic_ack(e->conn, CHANNEL, tag, 0), "basic.ack");
  *len = (uint32_t)size;
  return buf;
}

static void rmq_close(void *end) {
  rmq_end *e = end;
  rmq_disconnect(e->conn); /* every publish was confirmed: nothing is in flight */
  free(e);
}

static void rmq_destroy(void *chan) {
  rmq_chan *c = chan;
  amqp_connection_state_t conn = rmq_connect();
  amqp_queue_delete(conn, CHANNEL, amqp_cstring_bytes(c->name), 0, 0);
  rmq_check(amqp_get_rpc_reply(conn), "queue.delete");
  rmq_disconnect(conn);
  free(c);
}

const bench_peer bench_peer_rabbitmq = {"librabbitmq", rmq_create, rmq_open,    rmq_send,
                                        rmq_recv,      rmq_close,  rmq_destroy, NULL};
