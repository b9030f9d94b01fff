// Writes the seed corpus for frame_fuzz into the directory given: valid frames
// of each kind, lines, garbage, truncations. Run once; the files are committed.
#include <cstdio>
#include <string>
#include <vector>

#include "crc32c.hpp"
#include "frame.hpp"

namespace {

using Bytes = std::vector<uint8_t>;

Bytes inline_frame(const std::string &body) {
  Bytes f(fq::kHeaderSize);
  fq::encode_header(f.data(), fq::FrameKind::inline_msg, fq::kFlagCounted, uint32_t(body.size()),
                    fq::crc32c(0, body.data(), body.size()));
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

Bytes shm_frame() {
  Bytes f(fq::kHeaderSize + fq::kShmRefSize);
  fq::encode_shm_ref(f.data() + fq::kHeaderSize, fq::ShmRef{1u << 20, 1234, 99});
  fq::encode_header(f.data(), fq::FrameKind::shm_ref, fq::kFlagCounted, fq::kShmRefSize,
                    fq::crc32c(0, f.data() + fq::kHeaderSize, fq::kShmRefSize));
  return f;
}

void write(const std::string &dir, const std::string &name, uint8_t mode, const Bytes &b) {
  FILE *f = std::fopen((dir + "/" + name).c_str(), "wb");
  std::fputc(mode, f);  // the target's first byte: 0 in sync, 1 resyncing
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto &p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes str(const std::string &s) { return Bytes(s.begin(), s.end()); }

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const std::string d = argv[1];
  const Bytes hello = inline_frame("hello");
  write(d, "inline", 0, hello);
  write(d, "inline-max", 0, inline_frame(std::string(fq::kMaxInline, 'm')));
  write(d, "shm-ref", 0, shm_frame());
  write(d, "lines", 0, str("job 1\nhéllo\r\n\n"));
  write(d, "mixed", 0, cat({str("echo\n"), hello, shm_frame(), str("tail\n")}));
  write(d, "torn-line", 0, cat({str("no newline"), hello}));
  write(d, "truncated-header", 0, Bytes(hello.begin(), hello.begin() + 9));
  Bytes huge = hello;
  huge[4] = huge[5] = huge[6] = huge[7] = 0xFF;
  write(d, "huge-length", 0, huge);
  Bytes bad_body = hello;
  bad_body.back() ^= 1;
  write(d, "bad-body-crc", 0, cat({bad_body, hello}));
  write(d, "binary-line", 0, str(std::string("a\0b\n", 4)));
  write(d, "resync-fragment", 1, cat({str("llo\nworld\n"), hello}));
  write(d, "resync-long", 1, cat({Bytes(5000, 'x'), str("\nline\n")}));
  return 0;
}
