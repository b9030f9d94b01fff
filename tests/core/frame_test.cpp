#include "frame.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crc32c.hpp"

namespace fq {
namespace {

std::vector<uint8_t> inline_frame(const std::string &body, uint8_t flags = kFlagCounted) {
  std::vector<uint8_t> f(kHeaderSize + body.size());
  encode_header(f.data(), FrameKind::inline_msg, flags, uint32_t(body.size()),
                crc32c(0, body.data(), body.size()));
  std::copy(body.begin(), body.end(), f.begin() + kHeaderSize);
  return f;
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto &p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<uint8_t> bytes(const std::string &s) { return {s.begin(), s.end()}; }

TEST(Crc32c, KnownVectorAndStreaming) {
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
  std::vector<uint8_t> big(10007, 0xA5);
  uint32_t piecewise = 0;
  for (size_t i = 0; i < big.size(); i += 1000) {
    piecewise = crc32c(piecewise, big.data() + i, std::min<size_t>(1000, big.size() - i));
  }
  EXPECT_EQ(piecewise, crc32c(0, big.data(), big.size()));
}

TEST(Frame, InlineFrameRoundTrips) {
  const auto f = inline_frame("hello");
  uint32_t resync = 0;
  const Token t = next_token(f.data(), f.size(), resync);
  ASSERT_EQ(t.kind, Token::inline_msg);
  EXPECT_EQ(t.size, f.size());
  EXPECT_EQ(std::string(f.begin() + long(t.msg_off), f.begin() + long(t.msg_off + t.msg_len)),
            "hello");
  EXPECT_TRUE(t.counted);
}

TEST(Frame, ShmRefRoundTrips) {
  uint8_t f[kHeaderSize + kShmRefSize];
  encode_shm_ref(f + kHeaderSize, ShmRef{123456789012ull, 4242, 0xDEADBEEFCAFEull});
  encode_header(f, FrameKind::shm_ref, 0, kShmRefSize, crc32c(0, f + kHeaderSize, kShmRefSize));
  uint32_t resync = 0;
  const Token t = next_token(f, sizeof f, resync);
  ASSERT_EQ(t.kind, Token::shm_ref);
  EXPECT_EQ(t.ref.len, 123456789012ull);
  EXPECT_EQ(t.ref.pid, 4242u);
  EXPECT_EQ(t.ref.seq, 0xDEADBEEFCAFEull);
  EXPECT_FALSE(t.counted);
}

TEST(Frame, EveryPrefixOfAFrameNeedsMore) {
  const auto f = inline_frame(std::string(100, 'z'));
  for (size_t n = 1; n < f.size(); ++n) {
    uint32_t resync = 0;
    EXPECT_EQ(next_token(f.data(), n, resync).kind, Token::need_more) << n;
  }
}

TEST(Frame, LinesAreTextUpToNewline) {
  uint32_t resync = 0;
  const auto s = bytes("job 1\r\nnext");
  Token t = next_token(s.data(), s.size(), resync);
  ASSERT_EQ(t.kind, Token::line);
  EXPECT_EQ(t.msg_len, 6u);  // the CR is text, kept
  EXPECT_EQ(t.size, 7u);
  t = next_token(s.data() + 7, s.size() - 7, resync);
  EXPECT_EQ(t.kind, Token::need_more);  // "next" has no newline yet
}

TEST(Frame, BinaryLineIsGarbage) {
  uint32_t resync = 0;
  const std::vector<uint8_t> s = {'a', 0, 'b', '\n', 'o', 'k', '\n'};
  Token t = next_token(s.data(), s.size(), resync);
  EXPECT_EQ(t.kind, Token::garbage);
  EXPECT_EQ(t.size, 4u);
  t = next_token(s.data() + 4, 3, resync);
  EXPECT_EQ(t.kind, Token::line);
}

TEST(Frame, LineCutByAFrameIsGarbageThenTheFrame) {
  const auto s = cat({bytes("torn"), inline_frame("x")});
  uint32_t resync = 0;
  Token t = next_token(s.data(), s.size(), resync);
  EXPECT_EQ(t.kind, Token::garbage);
  EXPECT_EQ(t.size, 4u);
  t = next_token(s.data() + 4, s.size() - 4, resync);
  EXPECT_EQ(t.kind, Token::inline_msg);
}

TEST(Frame, BadHeaderSkipsOneByteBadBodySkipsTheFrame) {
  auto f = inline_frame("abc");
  uint32_t resync = 0;
  auto bad_header = f;
  bad_header[13] ^= 1;
  EXPECT_EQ(next_token(bad_header.data(), bad_header.size(), resync).size, 1u);
  auto bad_body = f;
  bad_body[kHeaderSize] ^= 1;
  const Token t = next_token(bad_body.data(), bad_body.size(), resync);
  EXPECT_EQ(t.kind, Token::garbage);
  EXPECT_EQ(t.size, f.size());
}

TEST(Frame, HeaderClaimingTooMuchIsRejected) {
  uint8_t h[kHeaderSize];
  encode_header(h, FrameKind::inline_msg, 0, 0xFFFFFFFFu, 0);
  uint32_t resync = 0;
  const Token t = next_token(h, sizeof h, resync);
  EXPECT_EQ(t.kind, Token::garbage);  // not need_more: nothing waits for 4 GiB
  EXPECT_EQ(t.size, 1u);
}

// After a lost read the stream may start inside a frame whose body holds
// newlines. Its tail must never come out as a line.
TEST(Frame, ResyncNeverDeliversAFrameFragmentAsALine) {
  const auto tail_of_frame = bytes("llo\nworld\nmore text\n");
  const auto s = cat({tail_of_frame, inline_frame("next")});
  uint32_t resync = kResyncStart;
  size_t off = 0;
  std::vector<Token::Kind> kinds;
  while (off < s.size()) {
    const Token t = next_token(s.data() + off, s.size() - off, resync);
    ASSERT_NE(t.kind, Token::need_more);
    kinds.push_back(t.kind);
    off += t.size;
  }
  ASSERT_FALSE(kinds.empty());
  EXPECT_EQ(kinds.back(), Token::inline_msg);
  for (size_t i = 0; i + 1 < kinds.size(); ++i) EXPECT_EQ(kinds[i], Token::garbage);
  EXPECT_EQ(resync, 0u);
}

TEST(Frame, ResyncTrustsLinesAgainAfterPipeBufAndANewline) {
  std::string s(kPipeBuf + 10, 'x');
  s += "\nline\n";
  const auto b = bytes(s);
  uint32_t resync = kResyncStart;
  size_t off = 0;
  Token t;
  do {
    t = next_token(b.data() + off, b.size() - off, resync);
    off += t.size;
  } while (t.kind == Token::garbage);
  ASSERT_EQ(t.kind, Token::line);
  EXPECT_EQ(t.msg_len, 4u);
}

TEST(LineText, Utf8AndControls) {
  auto ok = [](const std::string &s) {
    return is_line_text(reinterpret_cast<const uint8_t *>(s.data()), s.size());
  };
  EXPECT_TRUE(ok(""));
  EXPECT_TRUE(ok("plain ascii\twith tab\r"));
  EXPECT_TRUE(ok("héllo — 世界 😀"));
  EXPECT_FALSE(ok("new\nline"));
  EXPECT_FALSE(ok(std::string("nul\0", 4)));
  EXPECT_FALSE(ok("\xfe"));
  EXPECT_FALSE(ok("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(ok("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(ok("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(ok("\xe4\xb8"));          // truncated
}

}  // namespace
}  // namespace fq
