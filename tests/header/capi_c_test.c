/* The C API from plain C99: a message round trip, strerror on any value,
 * the version. Exits non-zero on the first failure. */
#include <fq.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                          \
    }                                                                    \
  } while (0)

int main(void) {
  char dir[] = "/tmp/fq-c-test-XXXXXX";
  char path[64], buf[32];
  fq_queue *q = NULL;
  size_t len = 0;
  int e;
  static const int extremes[] = {INT_MIN, INT_MAX, -1000000, 1000000};

  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/q", dir);
  CHECK(fq_open(path, FQ_READ | FQ_WRITE | FQ_CREATE, &q) == 0);
  CHECK(fq_send(q, "from C", 6) == 0);
  CHECK(fq_recv_timeout(q, buf, sizeof buf, &len, 1000) == 0);
  CHECK(len == 6 && memcmp(buf, "from C", 6) == 0);
  CHECK(fq_recv_timeout(q, buf, sizeof buf, &len, 0) == FQ_EAGAIN);
  CHECK(fq_close(q) == 0);
  CHECK(fq_unlink(path) == 0);
  CHECK(rmdir(dir) == 0);

  for (e = -100; e <= 100; ++e) CHECK(fq_strerror(e) != NULL && fq_strerror(e)[0] != '\0');
  for (e = 0; e < 4; ++e) CHECK(fq_strerror(extremes[e]) != NULL);
  CHECK(fq_version() == FQ_VERSION);
  CHECK(FQ_VERSION == FQ_MAKE_VERSION(FQ_VERSION_MAJOR, FQ_VERSION_MINOR, FQ_VERSION_PATCH));
  puts("capi_c_test: ok");
  return 0;
}
