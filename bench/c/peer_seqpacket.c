/* A Unix-domain SOCK_SEQPACKET socket pair: the kernel keeps message
 * boundaries, and several processes may share an end without locks. A message
 * must fit in the sender's socket buffer (at most twice net.core.wmem_max
 * with SO_SNDBUF): the buffer is made at least 1 MiB and room for the message,
 * with SO_SNDBUFFORCE past wmem_max when we may (CAP_NET_ADMIN); a message
 * that still does not fit is n/a. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"

typedef struct {
  int fd[2]; /* fd[1] sends, fd[0] receives */
} seq_chan;

/* The kernel holds a seqpacket message in one buffer, most of it one
 * contiguous allocation: past a few MiB that can fail whatever SO_SNDBUF says.
 * One message sent through the pair and read back tells. */
static int fits(int fd[2], uint32_t size) {
  char *m = calloc(1, size);
  if (!m) bench_die("calloc");
  const ssize_t sent = send(fd[1], m, size, 0);
  if (sent < 0 && errno != ENOBUFS && errno != ENOMEM) bench_die("seqpacket send");
  if (sent >= 0 && recv(fd[0], m, size, 0) != sent) bench_die("seqpacket recv");
  free(m);
  return sent == (ssize_t)size;
}

static void *seq_create(const char *path, uint32_t size, int senders, int receivers,
                        const char **na, char *note, size_t note_cap) {
  (void)path, (void)senders, (void)receivers;
  seq_chan *c = malloc(sizeof *c);
  if (!c) bench_die("malloc");
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, c->fd) != 0) bench_die("socketpair");
  /* The kernel doubles what is asked and needs 32 bytes of it per message. */
  int want = size + (64 << 10) > (1 << 20) ? (int)(size + (64 << 10)) : 1 << 20, got;
  socklen_t len = sizeof got;
  if (setsockopt(c->fd[1], SOL_SOCKET, SO_SNDBUF, &want, sizeof want) != 0) bench_die("SO_SNDBUF");
  if (getsockopt(c->fd[1], SOL_SOCKET, SO_SNDBUF, &got, &len) != 0) bench_die("SO_SNDBUF");
  if ((long)size + 32 > got &&
      setsockopt(c->fd[1], SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) == 0) {
    snprintf(note, note_cap, "SO_SNDBUFFORCE %d, past net.core.wmem_max", want);
    if (getsockopt(c->fd[1], SOL_SOCKET, SO_SNDBUF, &got, &len) != 0) bench_die("SO_SNDBUF");
  }
  if ((long)size + 32 > got) {
    *na = "larger than the socket buffer (net.core.wmem_max)";
  } else if (!fits(c->fd, size)) {
    *na = "the kernel cannot allocate one such message (ENOBUFS)";
  }
  if (*na) {
    close(c->fd[0]), close(c->fd[1]), free(c);
    return NULL;
  }
  return c;
}

static void *seq_open_end(void *chan, int sending, int index) {
  (void)index;
  return &((seq_chan *)chan)->fd[sending ? 1 : 0];
}

static void seq_send(void *end, const void *msg, uint32_t len) {
  ssize_t n;
  while ((n = send(*(int *)end, msg, len, 0)) < 0)
    if (errno != EINTR) bench_die("seqpacket send");
  if ((uint32_t)n != len) bench_die("seqpacket send: short");
}

static const void *seq_recv(void *end, void *buf, uint32_t cap, uint32_t *len) {
  ssize_t n;
  while ((n = recv(*(int *)end, buf, cap, 0)) < 0)
    if (errno != EINTR) bench_die("seqpacket recv");
  *len = (uint32_t)n;
  return buf;
}

static void seq_close(void *end) { (void)end; /* the pair belongs to the channel */ }

static void seq_destroy(void *chan) {
  seq_chan *c = chan;
  close(c->fd[0]), close(c->fd[1]);
  free(c);
}

const bench_peer bench_peer_seqpacket = {"seqpacket", seq_create, seq_open_end, seq_send,
                                         seq_recv,    seq_close,  seq_destroy,  NULL};
