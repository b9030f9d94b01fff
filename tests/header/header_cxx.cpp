// fq.h alone, from C++ with -pedantic -Werror.
#include <fq.h>

int fq_header_cxx_check();
int fq_header_cxx_check() {
  fq_opts o = FQ_OPTS_INIT;
  fq_stats s = FQ_STATS_INIT;
  return static_cast<int>(o.size + s.size) + FQ_VERSION + FQ_EINVAL;
}
