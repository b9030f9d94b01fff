// libFuzzer target for the stream tokenizer: any bytes a hostile writer puts
// in the FIFO. Checks the invariants the receiver relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "frame.hpp"

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The first byte picks the starting recovery state, so resync is covered too.
  uint32_t resync = 0;
  if (size > 0) {
    resync = data[0] & 1 ? fq::kResyncStart : 0;
    ++data;
    --size;
  }
  size_t off = 0;
  while (off < size) {
    const size_t left = size - off;
    const fq::Token t = fq::next_token(data + off, left, resync);
    FUZZ_CHECK(resync <= fq::kResyncStart);
    if (t.kind == fq::Token::need_more) {
      FUZZ_CHECK(t.size == 0);
      break;
    }
    FUZZ_CHECK(t.size > 0 && t.size <= left);
    switch (t.kind) {
      case fq::Token::inline_msg:
        FUZZ_CHECK(t.msg_len <= fq::kMaxInline);
        FUZZ_CHECK(t.msg_off + t.msg_len <= t.size);
        break;
      case fq::Token::line:
        FUZZ_CHECK(t.msg_off + t.msg_len < t.size);  // the newline is covered, not delivered
        FUZZ_CHECK(data[off + t.msg_off + t.msg_len] == '\n');
        FUZZ_CHECK(fq::is_line_text(data + off + t.msg_off, t.msg_len));
        break;
      case fq::Token::shm_ref:
        FUZZ_CHECK(t.size == fq::kHeaderSize + fq::kShmRefSize);
        FUZZ_CHECK(t.msg_len == t.ref.len);
        break;
      default:
        break;
    }
    off += t.size;
  }
  return 0;
}
