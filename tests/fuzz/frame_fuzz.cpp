// libFuzzer target for the stream tokenizer, fq::next_token: any bytes a
// hostile or broken writer can put in the FIFO. Checks what the receiver
// relies on (core/README.md, "Frame format" and "A receiver killed inside
// read"):
//  - every token covers at least one byte and stays inside the input; a
//    message lies inside its token; `need_more` consumes nothing, and keeps
//    the recovery state unless a valid header waiting for its body ended it;
//  - lines are text ending in a newline; no message is delivered while
//    resynchronising, and the resync countdown only ever goes down;
//  - the stream read in pieces gives the same messages as read whole (the
//    receiver tokenises staging after every `read`, wherever it stopped);
//  - what encode_* writes, next_token reads back exactly.
//
// Input: byte 0 picks the starting recovery state and whether to mend
// checksums (see LLVMFuzzerTestOneInput), the rest is the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "crc32c.hpp"
#include "envelope.hpp"
#include "frame.hpp"
#include "fuzz_check.hpp"

namespace {

using fq::Token;

bool is_message(Token::Kind k) { return k != Token::need_more && k != Token::garbage; }

// A delivered message and where its token starts in the stream.
struct Msg {
  Token::Kind kind;
  size_t at, size, msg_off, msg_len;
  bool counted;
  uint64_t ref_len, ref_pid, ref_seq;
  uint32_t slot_len, slot_index, slot_gen;
  size_t env_len;

  Msg(const Token &t, size_t where)
      : kind(t.kind),
        at(where),
        size(t.size),
        msg_off(t.msg_off),
        msg_len(t.msg_len),
        counted(t.counted),
        ref_len(t.ref.len),
        ref_pid(t.ref.pid),
        ref_seq(t.ref.seq),
        slot_len(t.slot.len),
        slot_index(t.slot.index),
        slot_gen(t.slot.gen),
        env_len(t.env_len) {}
  bool operator==(const Msg &o) const {
    return kind == o.kind && at == o.at && size == o.size && msg_off == o.msg_off &&
           msg_len == o.msg_len && counted == o.counted && ref_len == o.ref_len &&
           ref_pid == o.ref_pid && ref_seq == o.ref_seq && slot_len == o.slot_len &&
           slot_index == o.slot_index && slot_gen == o.slot_gen && env_len == o.env_len;
  }
};

// next_token on s[off..avail), with every per-token invariant checked.
Token checked_token(const uint8_t *s, size_t off, size_t avail, uint32_t &resync) {
  const uint32_t before = resync;
  const size_t left = avail - off;
  const uint8_t *p = s + off;
  const Token t = fq::next_token(p, left, resync);
  FUZZ_CHECK(resync <= before);  // recovery counts down, never restarts by itself
  if (t.kind == Token::need_more) {
    FUZZ_CHECK(t.size == 0);
    // Re-read later from the same place. Only a valid header at the front,
    // its body still to come, may already have ended recovery.
    FUZZ_CHECK(resync == before || (resync == 0 && left >= fq::kHeaderSize && p[0] == fq::kMagic0));
    return t;
  }
  FUZZ_CHECK(t.size > 0 && t.size <= left);
  if (is_message(t.kind)) FUZZ_CHECK(resync == 0);  // nothing delivered while resyncing
  switch (t.kind) {
    case Token::inline_msg:
      FUZZ_CHECK(p[0] == fq::kMagic0);
      FUZZ_CHECK(t.msg_off == fq::kHeaderSize + t.env_len && t.msg_len <= fq::kMaxInline);
      FUZZ_CHECK(t.size == t.msg_off + t.msg_len);
      break;
    case Token::shm_ref:
      FUZZ_CHECK(p[0] == fq::kMagic0);
      FUZZ_CHECK(t.size == fq::kHeaderSize + t.env_len + fq::kShmRefSize);
      FUZZ_CHECK(t.msg_len == t.ref.len);
      break;
    case Token::slot_ref:
      FUZZ_CHECK(p[0] == fq::kMagic0);
      FUZZ_CHECK(t.size == fq::kHeaderSize + t.env_len + fq::kSlotRefSize);
      FUZZ_CHECK(t.msg_len == t.slot.len);
      break;
    case Token::line:
      FUZZ_CHECK(p[0] != fq::kMagic0);
      FUZZ_CHECK(t.msg_off == 0 && t.msg_len + 1 == t.size);  // the newline: covered, not delivered
      FUZZ_CHECK(p[t.msg_len] == '\n');
      FUZZ_CHECK(fq::is_line_text(p, t.msg_len));
      break;
    default:
      break;
  }
  // An envelope sits right after the header, inside the token, and only
  // where the header's flag announces one.
  const bool flagged =
      (t.kind == Token::inline_msg || t.kind == Token::shm_ref || t.kind == Token::slot_ref) &&
      (p[3] & fq::kFlagEnvelope);
  if (flagged) {
    FUZZ_CHECK(t.env_off == fq::kHeaderSize && t.env_len >= fq::kEnvelopeFixedSize);
    FUZZ_CHECK(t.env_off + t.env_len <= t.size);
  } else {
    FUZZ_CHECK(t.env_len == 0);
  }
  return t;
}

struct Result {
  std::vector<Msg> msgs;
  size_t end = 0;  // where the last need_more stopped
  uint32_t resync = 0;
};

// Tokenises s[0..n) as a receiver does: from the head, reading more when the
// tokenizer needs it. `rng` 0 has everything at once; otherwise each read gets
// 1 to 64 bytes, the sizes drawn from `rng`.
Result tokenize(const uint8_t *s, size_t n, uint32_t resync, uint64_t rng) {
  Result r;
  size_t off = 0, avail = rng ? 0 : n;
  for (;;) {
    const Token t = checked_token(s, off, avail, resync);
    if (t.kind == Token::need_more) {
      if (avail == n) break;
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;  // xorshift64
      avail += std::min<size_t>(n - avail, 1 + rng % 64);
      continue;
    }
    if (is_message(t.kind)) r.msgs.emplace_back(t, off);
    off += t.size;
  }
  r.end = off;
  r.resync = resync;
  return r;
}

uint64_t load_le(const uint8_t *p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

// Reads `frame` back, in sync and while resynchronising (a valid header ends
// recovery), and checks every proper prefix asks for more.
Token read_back(const std::vector<uint8_t> &frame) {
  Token t;
  for (const uint32_t start : {uint32_t(0), fq::kResyncStart}) {
    uint32_t resync = start;
    t = checked_token(frame.data(), 0, frame.size(), resync);
    FUZZ_CHECK(t.size == frame.size() && resync == 0);
  }
  for (size_t n = 0; n < frame.size(); n += n < fq::kHeaderSize ? 1 : 61) {
    uint32_t resync = 0;
    FUZZ_CHECK(checked_token(frame.data(), 0, n, resync).kind == Token::need_more);
  }
  return t;
}

// What the encoders write from the input, the tokenizer reads back.
void check_round_trip(const uint8_t *d, size_t n) {
  const bool counted = n & 1;
  const uint8_t flags = counted ? fq::kFlagCounted : 0;

  const size_t body = std::min(n, fq::kMaxInline);
  std::vector<uint8_t> f(fq::kHeaderSize + body);
  std::copy(d, d + body, f.begin() + fq::kHeaderSize);
  fq::encode_header(f.data(), fq::FrameKind::inline_msg, flags, uint32_t(body),
                    fq::crc32c(0, d, body));
  Token t = read_back(f);
  FUZZ_CHECK(t.kind == Token::inline_msg && t.msg_len == body && t.counted == counted);

  uint8_t w[24] = {};  // reference fields taken from the input's first bytes
  std::copy(d, d + std::min(n, sizeof w), w);  // not memcpy: d is null when n is 0
  const fq::ShmRef ref{load_le(w, 8), uint32_t(load_le(w + 8, 4)), load_le(w + 16, 8)};
  f.assign(fq::kHeaderSize + fq::kShmRefSize, 0);
  fq::encode_shm_ref(f.data() + fq::kHeaderSize, ref);
  fq::encode_header(f.data(), fq::FrameKind::shm_ref, flags, fq::kShmRefSize,
                    fq::crc32c(0, f.data() + fq::kHeaderSize, fq::kShmRefSize));
  t = read_back(f);
  FUZZ_CHECK(t.kind == Token::shm_ref && t.counted == counted);
  FUZZ_CHECK(t.ref.len == ref.len && t.ref.pid == ref.pid && t.ref.seq == ref.seq);

  const fq::SlotRef slot{uint32_t(load_le(w, 4)), uint32_t(load_le(w + 4, 4)),
                         uint32_t(load_le(w + 8, 4))};
  f.assign(fq::kHeaderSize + fq::kSlotRefSize, 0);
  fq::encode_slot_ref(f.data() + fq::kHeaderSize, slot);
  fq::encode_header(f.data(), fq::FrameKind::slot_ref, flags, fq::kSlotRefSize,
                    fq::crc32c(0, f.data() + fq::kHeaderSize, fq::kSlotRefSize));
  t = read_back(f);
  FUZZ_CHECK(t.kind == Token::slot_ref && t.counted == counted);
  FUZZ_CHECK(t.slot.len == slot.len && t.slot.index == slot.index && t.slot.gen == slot.gen);

  // An envelope made from the input travels in front of the payload and
  // decodes to what was encoded; any bytes either decode to an envelope that
  // encodes back to them, or are refused.
  fq::Envelope env;
  env.attempts = uint32_t(load_le(w, 4));
  env.deaths = uint32_t(load_le(w + 4, 4));
  env.flags = w[8];
  env.last_death_ms = int64_t(load_le(w + 9, 8));
  env.origin.assign(reinterpret_cast<const char *>(d), std::min<size_t>(n, 300));
  env.reason.assign(reinterpret_cast<const char *>(d), std::min<size_t>(n / 2, 200));
  std::vector<uint8_t> env_body(env.size());
  env.encode(env_body.data());
  const size_t payload = std::min(n, fq::kMaxInline - env_body.size());
  env_body.insert(env_body.end(), d, d + payload);
  f.assign(fq::kHeaderSize, 0);
  f.insert(f.end(), env_body.begin(), env_body.end());
  fq::encode_header(f.data(), fq::FrameKind::inline_msg, flags | fq::kFlagEnvelope,
                    uint32_t(env_body.size()), fq::crc32c(0, env_body.data(), env_body.size()));
  t = read_back(f);
  FUZZ_CHECK(t.kind == Token::inline_msg && t.msg_len == payload && t.env_len == env.size());
  fq::Envelope back;
  size_t used = 0;
  FUZZ_CHECK(back.decode(f.data() + t.env_off, t.env_len, &used) && used == t.env_len);
  FUZZ_CHECK(back.attempts == env.attempts && back.deaths == env.deaths &&
             back.flags == env.flags && back.last_death_ms == env.last_death_ms &&
             back.origin == env.origin && back.reason == env.reason);
  if (n > 0 && back.decode(d, n, &used)) {
    FUZZ_CHECK(used <= n && used == back.size());
    std::vector<uint8_t> again(used);
    back.encode(again.data());
    FUZZ_CHECK(std::equal(again.begin(), again.end(), d));
  }

  // Text plus a newline is one line in sync, and never a line while resynchronising
  // (shorter than kPipeBuf, it may be the tail of a frame cut by a lost read).
  if (fq::is_line_text(d, n)) {
    std::vector<uint8_t> line(d, d + n);
    line.push_back('\n');
    uint32_t resync = 0;
    t = checked_token(line.data(), 0, line.size(), resync);
    FUZZ_CHECK(t.kind == Token::line && t.size == line.size() && t.msg_len == n);
    if (n < fq::kPipeBuf) {
      resync = fq::kResyncStart;
      FUZZ_CHECK(checked_token(line.data(), 0, line.size(), resync).kind == Token::garbage);
    }
  }
}

// A fuzzer cannot guess a CRC-32C, so it would rarely make a valid frame
// with fields of its own. Wherever the magic starts a header, this writes the
// header's CRC and, if the claimed body is all there, the body's.
void mend_checksums(std::vector<uint8_t> &s) {
  for (size_t i = 0; i + fq::kHeaderSize <= s.size(); ++i) {
    uint8_t *h = s.data() + i;
    if (h[0] != fq::kMagic0 || h[1] != fq::kMagic1) continue;
    const uint64_t body = load_le(h + 4, 4);
    uint32_t crc = uint32_t(load_le(h + 8, 4));
    if (body <= s.size() - i - fq::kHeaderSize) crc = fq::crc32c(0, h + fq::kHeaderSize, body);
    fq::encode_header(h, static_cast<fq::FrameKind>(h[2]), h[3], uint32_t(body), crc);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  // Byte 0: bit 0 clear, in sync; bits 0 and 1 set, recovery just started;
  // bit 0 alone, recovery nearly over (1 to 32, from bits 2-6). Bit 7: mend
  // the checksums first.
  const uint8_t mode = data[0];
  const uint32_t resync = !(mode & 1) ? 0 : (mode & 2) ? fq::kResyncStart : 1 + ((mode >> 2) & 31);
  std::vector<uint8_t> stream(data + 1, data + size);
  if (mode & 0x80) mend_checksums(stream);
  const uint8_t *s = stream.data();
  const size_t n = stream.size();

  const Result whole = tokenize(s, n, resync, 0);
  uint64_t seed = 0xcbf29ce484222325u;  // FNV-1a of the input: the same input, the same reads
  for (size_t i = 0; i < n; ++i) seed = (seed ^ s[i]) * 0x100000001b3u;
  const Result pieces = tokenize(s, n, resync, seed | 1);
  FUZZ_CHECK(pieces.msgs == whole.msgs);
  FUZZ_CHECK(pieces.end == whole.end && pieces.resync == whole.resync);

  check_round_trip(s, n);
  return 0;
}
