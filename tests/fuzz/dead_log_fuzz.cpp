// libFuzzer target for the dead log reader: any bytes a torn append, a full
// disk or a hostile user can leave in P.fq-dead. Checks that the reader
//  - returns only records whose checksum and envelope hold, never more
//    payload than the file has, and stops for good at the first bad one;
//  - reads back exactly what dead_log_append wrote, with the input appended
//    after it as a torn tail.
#include <sys/mman.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dead_log.hpp"
#include "fuzz_check.hpp"

namespace {

fq::Fd file_with(const uint8_t *d, size_t n) {
  fq::Fd fd(::memfd_create("dead_log_fuzz", MFD_CLOEXEC));
  FUZZ_CHECK(fd);
  if (n > 0) FUZZ_CHECK(::write(fd.get(), d, n) == ssize_t(n));
  FUZZ_CHECK(::lseek(fd.get(), 0, SEEK_SET) == 0);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  // Whatever the bytes, records come out whole or not at all.
  fq::DeadLogReader r;
  r.open(file_with(d, n));
  fq::Envelope env;
  std::vector<uint8_t> payload;
  size_t records = 0, bytes = 0;
  while (r.next(env, payload) == fq::Errc::ok) {
    ++records;
    bytes += 12 + env.size() + payload.size();
    FUZZ_CHECK(bytes <= n);
  }
  FUZZ_CHECK(r.next(env, payload) == fq::Errc::AGAIN);  // the end stays the end

  // A record written from the input reads back, torn garbage after it or not.
  fq::Envelope w;
  w.attempts = n > 0 ? d[0] : 0;
  w.reason.assign(reinterpret_cast<const char *>(d), n < 100 ? n : 100);
  char tmpl[] = "/dev/shm/dead_log_fuzz-XXXXXX";  // tmpfs: fdatasync costs nothing
  const int tmp = ::mkstemp(tmpl);
  FUZZ_CHECK(tmp >= 0);
  ::close(tmp);
  FUZZ_CHECK(fq::dead_log_append(tmpl, 0600, w, d, n) == fq::Errc::ok);
  {
    fq::Fd fd(::open(tmpl, O_RDWR | O_APPEND | O_CLOEXEC));
    FUZZ_CHECK(fd);
    if (n > 0) FUZZ_CHECK(::write(fd.get(), d, n) == ssize_t(n));  // a torn tail
  }
  fq::DeadLogReader back;
  FUZZ_CHECK(back.open(tmpl) == fq::Errc::ok);
  ::unlink(tmpl);
  FUZZ_CHECK(back.next(env, payload) == fq::Errc::ok);
  FUZZ_CHECK(env.attempts == w.attempts && env.reason == w.reason);
  FUZZ_CHECK(payload.size() == n && (n == 0 || std::equal(payload.begin(), payload.end(), d)));
  return 0;
}
