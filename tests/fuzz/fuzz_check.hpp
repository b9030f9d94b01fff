// The assertion of fuzz targets: says which invariant broke, then aborts, which
// both libFuzzer and the replay driver (run by CTest) report as a failure.
// Not assert(): it must hold in release builds too.
#pragma once
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
