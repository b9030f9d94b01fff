#include "frame.hpp"

#include <cstring>

#include "crc32c.hpp"
#include "le.hpp"

namespace fq {
namespace {

// A plausible header: magic, known kind and flags, sane length, good CRC.
bool header_ok(const uint8_t *p) noexcept {
  if (p[0] != kMagic0 || p[1] != kMagic1) return false;
  if (p[3] & ~(kFlagCounted | kFlagEnvelope)) return false;
  const uint32_t body = load32(p + 4);
  // An envelope's size is checked with the body; here only what bounds it.
  const bool env = p[3] & kFlagEnvelope;
  if (body > kMaxInline) return false;
  if (p[2] == uint8_t(FrameKind::shm_ref)) {
    if (env ? body < kShmRefSize : body != kShmRefSize) return false;
  } else if (p[2] == uint8_t(FrameKind::slot_ref)) {
    if (env ? body < kSlotRefSize : body != kSlotRefSize) return false;
  } else if (p[2] != uint8_t(FrameKind::inline_msg)) {
    return false;
  }
  return crc32c(0, p, 12) == load32(p + 12);
}

Token make(Token::Kind kind, size_t size) noexcept {
  Token t;
  t.kind = kind;
  t.size = size;
  return t;
}

Token frame_at_front(const uint8_t *p, size_t n) noexcept {
  if (n < kHeaderSize) return make(Token::need_more, 0);
  if (!header_ok(p)) return make(Token::garbage, 1);
  const size_t body = load32(p + 4);
  if (n < kHeaderSize + body) return make(Token::need_more, 0);
  const uint8_t *b = p + kHeaderSize;
  if (crc32c(0, b, body) != load32(p + 8)) return make(Token::garbage, kHeaderSize + body);
  Token t;
  t.size = kHeaderSize + body;
  t.counted = p[3] & kFlagCounted;
  size_t rest = body;  // the body after the envelope
  if (p[3] & kFlagEnvelope) {
    const size_t env = body >= 2 ? load16(b) : 0;
    const size_t ref = p[2] == uint8_t(FrameKind::shm_ref)    ? kShmRefSize
                       : p[2] == uint8_t(FrameKind::slot_ref) ? kSlotRefSize
                                                              : 0;
    if (env < kEnvelopeFixedSize || env > body || (ref != 0 && body - env != ref)) {
      return make(Token::garbage, kHeaderSize + body);
    }
    t.env_off = kHeaderSize;
    t.env_len = env;
    b += env;
    rest -= env;
  }
  if (p[2] == uint8_t(FrameKind::inline_msg)) {
    t.kind = Token::inline_msg;
    t.msg_off = kHeaderSize + t.env_len;
    t.msg_len = rest;
  } else if (p[2] == uint8_t(FrameKind::shm_ref)) {
    t.kind = Token::shm_ref;
    t.ref.len = load64(b);
    t.ref.pid = load32(b + 8);
    t.ref.seq = load64(b + 16);
    t.msg_len = t.ref.len;
  } else {
    t.kind = Token::slot_ref;
    t.slot.len = load32(b);
    t.slot.index = load32(b + 4);
    t.slot.gen = load32(b + 8);
    t.msg_len = t.slot.len;
  }
  return t;
}

Token line_at_front(const uint8_t *p, size_t n) noexcept {
  const auto *nl = static_cast<const uint8_t *>(std::memchr(p, '\n', n));
  const size_t scan = nl ? size_t(nl - p) : n;
  const auto *magic = static_cast<const uint8_t *>(std::memchr(p, kMagic0, scan));
  if (magic) return make(Token::garbage, size_t(magic - p));  // a line cut short by a frame
  if (!nl) return make(Token::need_more, 0);
  if (!is_line_text(p, scan)) return make(Token::garbage, scan + 1);
  Token t;
  t.kind = Token::line;
  t.size = scan + 1;
  t.msg_off = 0;
  t.msg_len = scan;
  return t;
}

// Recovery after a lost read: skip to a valid frame header, or past kPipeBuf
// bytes (the longest frame a read can have cut) and then to a newline.
Token resync_at_front(const uint8_t *p, size_t n, uint32_t &resync) noexcept {
  size_t i = 0;
  for (; i < n; ++i) {
    if (p[i] == kMagic0) {
      if (n - i < kHeaderSize) break;  // maybe a header: wait for the rest
      if (header_ok(p + i)) {
        resync = 0;
        return make(Token::garbage, i);  // i > 0 here unless called in sync
      }
    }
    if (resync > 1) {
      --resync;
    } else if (p[i] == '\n') {
      resync = 0;
      return make(Token::garbage, i + 1);
    }
  }
  return i > 0 ? make(Token::garbage, i) : make(Token::need_more, 0);
}

}  // namespace

void encode_header(uint8_t *out, FrameKind kind, uint8_t flags, uint32_t body_len,
                   uint32_t body_crc) noexcept {
  out[0] = kMagic0;
  out[1] = kMagic1;
  out[2] = uint8_t(kind);
  out[3] = flags;
  store32(out + 4, body_len);
  store32(out + 8, body_crc);
  store32(out + 12, crc32c(0, out, 12));
}

void encode_shm_ref(uint8_t *out, const ShmRef &ref) noexcept {
  store64(out, ref.len);
  store32(out + 8, ref.pid);
  store32(out + 12, 0);
  store64(out + 16, ref.seq);
}

void encode_slot_ref(uint8_t *out, const SlotRef &ref) noexcept {
  store32(out, ref.len);
  store32(out + 4, ref.index);
  store32(out + 8, ref.gen);
  store32(out + 12, 0);
}

Token next_token(const uint8_t *p, size_t n, uint32_t &resync) noexcept {
  if (n == 0) return make(Token::need_more, 0);
  if (resync != 0) {
    if (!(p[0] == kMagic0 && n >= kHeaderSize && header_ok(p)))
      return resync_at_front(p, n, resync);
    resync = 0;
  }
  return p[0] == kMagic0 ? frame_at_front(p, n) : line_at_front(p, n);
}

bool is_line_text(const uint8_t *p, size_t n) noexcept {
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\r') return false;
      ++i;
      continue;
    }
    // Multi-byte UTF-8: reject overlongs, surrogates and values past U+10FFFF.
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (p[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace fq
