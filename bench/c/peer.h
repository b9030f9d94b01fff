/* A peer: one way of moving whole messages between processes, as the
 * benchmark sees it. fq and every alternative fill in this table, each in its
 * own file; the harness (harness.c) forks the processes, starts them together,
 * counts and checks what arrives and times it, the same way for all.
 *
 * A channel is made once per run by the parent, before it forks, and removed
 * after; each child opens its own end of it. `send` and `recv` move one
 * message and end the process (exit status 2, after saying why on stderr) on
 * any error: a failed child makes the run fail, never a silent short count.
 *
 * A variant of a peer (a batch call, a zero-copy receive) is another table:
 * `send` may buffer messages and flush them in `close`, `recv` may hand out
 * messages from a batch it received in one call, and may return a pointer to
 * its own memory (valid until the next call) instead of filling `buf`.
 */
#ifndef FQ_BENCH_PEER_H
#define FQ_BENCH_PEER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *name; /* as shown in the results: "fq", "bare FIFO", ... */
  /* Makes a channel for messages of `size` bytes between `senders` and
   * `receivers` processes; `path` is a fresh name in the run's directory to use
   * if the peer needs one. Returns NULL and sets *na to why if this peer cannot
   * carry such messages here (a kernel limit); may write what it had to change
   * to carry them (a buffer raised) into note. */
  void *(*create)(const char *path, uint32_t size, int senders, int receivers, const char **na,
                  char *note, size_t note_cap);
  /* The end of one child: sending or receiving, and its index among those. */
  void *(*open)(void *chan, int sending, int index);
  void (*send)(void *end, const void *msg, uint32_t len);
  /* Receives one message of at most `cap` bytes; returns where it is (buf, or
   * the peer's own memory until the next call) and its length in *len. */
  const void *(*recv)(void *end, void *buf, uint32_t cap, uint32_t *len);
  void (*close)(void *end); /* a sender's close returns once all it sent is delivered */
  void (*destroy)(void *chan);
  const char *latency_na; /* why it has no ping-pong (a batch waits to fill), or NULL */
} bench_peer;

extern const bench_peer bench_peer_fq;
extern const bench_peer bench_peer_fq_batch;
extern const bench_peer bench_peer_fq_in_place;
extern const bench_peer bench_peer_fifo;
extern const bench_peer bench_peer_mq;
extern const bench_peer bench_peer_seqpacket;
extern const bench_peer bench_peer_zmq;
extern const bench_peer bench_peer_fq_broker;
extern const bench_peer bench_peer_rabbitmq;

/* Reports what failed and ends the process with status 2. */
void bench_die(const char *what);
void bench_die_fq(const char *what, int rc);

#endif
