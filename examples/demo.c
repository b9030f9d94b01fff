/* fq demo: one producer, three consumer processes, one queue.
 *
 * The producer sends image-sized messages (1 to 8 MiB, far past PIPE_BUF)
 * and small jobs; the shell adds a line with `echo`. Each consumer takes
 * whole messages, checks them, and reports. Every message is taken exactly
 * once. Run: ./demo [queue-path]
 */
#include <fq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { CONSUMERS = 3, IMAGES = 12, MAX_IMAGE = 8 << 20 };

/* An "image": its first 4 bytes say which, the rest is a pattern we can check. */
static void fill_image(unsigned char *p, size_t len, unsigned id) {
  size_t i;
  memcpy(p, &id, sizeof id);
  for (i = sizeof id; i < len; ++i) p[i] = (unsigned char)(i * 31 + id);
}

static int image_ok(const unsigned char *p, size_t len, unsigned *id) {
  size_t i;
  memcpy(id, p, sizeof *id);
  for (i = sizeof *id; i < len; ++i)
    if (p[i] != (unsigned char)(i * 31 + *id)) return 0;
  return 1;
}

static int consumer(const char *path, int n) {
  fq_queue *q;
  unsigned char *buf = malloc(MAX_IMAGE);
  int rc = fq_open(path, FQ_READ, &q), taken = 0;
  if (rc != 0 || !buf) {
    fprintf(stderr, "consumer %d: fq_open %s: %s\n", n, path, fq_strerror(rc));
    return 1;
  }
  for (;;) {
    size_t len;
    unsigned id;
    rc = fq_recv_timeout(q, buf, MAX_IMAGE, &len, 10000);
    if (rc != 0) {
      fprintf(stderr, "consumer %d: fq_recv: %s\n", n, fq_strerror(rc));
      break;
    }
    if (len == 4 && memcmp(buf, "stop", 4) == 0) break;
    if (len > 4096 && image_ok(buf, len, &id))
      printf("consumer %d: image %2u, %7zu bytes, intact\n", n, id, len);
    else
      printf("consumer %d: job \"%.*s\"\n", n, (int)len, (const char *)buf);
    fflush(stdout);
    ++taken;
  }
  printf("consumer %d: done, took %d messages\n", n, taken);
  fflush(stdout);
  fq_close(q);
  free(buf);
  return rc == 0 ? taken : 255; /* the parent adds up what each one took */
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/tmp/fq-demo.fifo";
  pid_t kids[CONSUMERS];
  unsigned char *img = malloc(MAX_IMAGE);
  char cmd[512];
  fq_queue *q;
  int i, rc, failed = 0, sent = 0, taken = 0;

  rc = fq_open(path, FQ_WRITE | FQ_CREATE, &q);
  if (rc != 0 || !img) {
    fprintf(stderr, "demo: fq_open %s: %s\n", path, fq_strerror(rc));
    return 1;
  }
  printf("queue %s (PIPE_BUF is 4096; these messages are up to %d bytes)\n", path, MAX_IMAGE);
  fflush(stdout);
  for (i = 0; i < CONSUMERS; ++i) {
    kids[i] = fork();
    if (kids[i] == 0) _exit(consumer(path, i + 1));
  }
  for (i = 0; i < IMAGES; ++i) {
    size_t len = (size_t)(1 + i % 8) << 20;
    fill_image(img, len, (unsigned)i);
    if ((rc = fq_send(q, img, len)) == 0)
      ++sent;
    else
      fprintf(stderr, "demo: fq_send: %s\n", fq_strerror(rc));
    if (i % 4 == 0) {
      char job[32];
      snprintf(job, sizeof job, "resize thumbnails %d", i);
      if (fq_send(q, job, strlen(job)) == 0) ++sent;
    }
  }
  /* A shell user adds work the way the seeds do. */
  snprintf(cmd, sizeof cmd, "echo 'https://example.org/from-the-shell' >> '%s'", path);
  if (system(cmd) == 0)
    ++sent;
  else
    fprintf(stderr, "demo: echo into the FIFO failed\n");
  for (i = 0; i < CONSUMERS; ++i) fq_send(q, "stop", 4);
  for (i = 0; i < CONSUMERS; ++i) {
    int status;
    waitpid(kids[i], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
      failed = 1;
    else
      taken += WEXITSTATUS(status);
  }
  fq_close(q);
  fq_unlink(path);
  free(img);
  if (failed || taken != sent) {
    printf("demo: FAILED: %d messages sent, %d taken\n", sent, taken);
    return 1;
  }
  printf("demo: %d messages sent, %d taken, each exactly once\n", sent, taken);
  return 0;
}
