// The wire format of a queue: frames and lines in one byte stream.
// The byte-level layout is documented in core/README.md ("Frame format").
#pragma once
#include <cstddef>
#include <cstdint>

namespace fq {

constexpr size_t kPipeBuf = 4096;  // PIPE_BUF on Linux: writes up to this are atomic
constexpr size_t kHeaderSize = 16;
constexpr size_t kMaxInline = kPipeBuf - kHeaderSize;
constexpr size_t kShmRefSize = 24;
constexpr size_t kSlotRefSize = 16;
constexpr uint8_t kMagic0 = 0xFE;  // never appears in UTF-8 text
constexpr uint8_t kMagic1 = 0x71;
constexpr uint8_t kFlagCounted = 1;        // the sender reserved room for this message
constexpr uint8_t kFlagEnvelope = 2;       // the body starts with an envelope (envelope.hpp)
constexpr size_t kEnvelopeFixedSize = 48;  // the smallest envelope: no origin, no reason

enum class FrameKind : uint8_t { inline_msg = 1, shm_ref = 2, slot_ref = 3 };

// Where a large payload lives: /dev/shm/fq-<token>-<pid>-<seq>.
struct ShmRef {
  uint64_t len = 0;
  uint32_t pid = 0;
  uint64_t seq = 0;
};

// Where a medium payload lives: a slot of the queue's arena.
struct SlotRef {
  uint32_t len = 0;
  uint32_t index = 0;
  uint32_t gen = 0;
};

// Writes the 16-byte header of a frame whose body has `body_len` bytes and
// CRC-32C `body_crc`.
void encode_header(uint8_t *out, FrameKind kind, uint8_t flags, uint32_t body_len,
                   uint32_t body_crc) noexcept;
void encode_shm_ref(uint8_t *out, const ShmRef &ref) noexcept;
void encode_slot_ref(uint8_t *out, const SlotRef &ref) noexcept;

// One unit found at the front of a byte stream.
struct Token {
  enum Kind { need_more, garbage, inline_msg, shm_ref, slot_ref, line };
  Kind kind = need_more;
  size_t size = 0;     // bytes of the stream this token covers
  size_t msg_off = 0;  // inline and line: where the message starts
  size_t msg_len = 0;  // every message kind: its length
  size_t env_off = 0;  // frames with an envelope: where it starts
  size_t env_len = 0;  // and its size; 0 without one
  bool counted = false;
  ShmRef ref;
  SlotRef slot;
};

// Finds the token at the front of `p[0..n)`. `resync` is the receiver's
// recovery state after a lost read (0 when in sync; see README): while it is
// non-zero lines are not trusted, and the function updates it as it skips.
Token next_token(const uint8_t *p, size_t n, uint32_t &resync) noexcept;

// The resync value that starts recovery after bytes of unknown length were lost.
constexpr uint32_t kResyncStart = kPipeBuf + 1;

// True if `p[0..n)` may travel as a line: UTF-8 text with no C0 control
// characters (U+0000-U+001F) except tab and carriage return, so no newline.
bool is_line_text(const uint8_t *p, size_t n) noexcept;

}  // namespace fq
