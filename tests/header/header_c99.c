/* fq.h alone, as C99 with -pedantic -Werror: the installed header is pure C. */
#include <fq.h>

int fq_header_c99_check(void);
int fq_header_c99_check(void) {
  fq_opts o = FQ_OPTS_INIT;
  fq_stats s = FQ_STATS_INIT;
  return (int)(o.size + s.size) + FQ_VERSION + FQ_EINVAL;
}
