/* Built against the installed fq only: pkg-config or find_package. */
#include <fq.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  fq_queue *q;
  char buf[64];
  size_t len;
  int rc;
  if (argc != 2) return 2;
  rc = fq_open(argv[1], FQ_READ | FQ_WRITE | FQ_CREATE, &q);
  if (rc == 0) rc = fq_send(q, "installed fq works", 18);
  if (rc == 0) rc = fq_recv_timeout(q, buf, sizeof buf, &len, 1000);
  if (rc != 0) {
    fprintf(stderr, "prog: %s\n", fq_strerror(rc));
    return 1;
  }
  printf("%.*s\n", (int)len, buf);
  fq_close(q);
  return fq_unlink(argv[1]) == 0 ? 0 : 1;
}
