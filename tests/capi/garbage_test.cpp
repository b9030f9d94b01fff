// Guarantee 7: garbage in the FIFO is skipped and counted; nothing absurd is
// allocated and the next real message arrives intact.
#include <fcntl.h>

#include <random>

#include "test_support.hpp"

using namespace fqtest;

namespace {

void write_raw(const std::string &path, const void *p, size_t n) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  const auto *c = static_cast<const uint8_t *>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, n < 4096 ? n : 4096);
    ASSERT_GT(w, 0);
    c += w;
    n -= size_t(w);
  }
  ::close(fd);
}

TEST(Garbage, RandomBytesAreSkippedAndCounted) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  std::mt19937 rng(42);
  std::vector<uint8_t> junk(64 * 1024);
  for (auto &b : junk) b = uint8_t(rng());
  for (size_t i = 0; i < junk.size(); i += 997) junk[i] = 0xFE;  // many false frame starts
  write_raw(path, junk.data(), junk.size());
  const auto m = make_msg(9, 9, 5000);
  ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
  std::vector<uint8_t> buf(70000);
  size_t len = 0;
  // Random bytes may by chance hold a valid text line; anything delivered
  // before the real message must then be text, never a corrupt frame.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 5000), 0);
    uint32_t s, seq;
    if (check_msg(buf.data(), len, s, seq)) break;
  }
  uint32_t s, seq;
  ASSERT_TRUE(check_msg(buf.data(), len, s, seq));
  EXPECT_EQ(seq, 9u);
  fq_stats st = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &st), 0);
  EXPECT_GT(st.garbage_bytes, 60000u);
  fq_close(q);
}

// A header with a valid checksum claiming 4 GiB, and a frame with a bad body.
TEST(Garbage, AbsurdLengthAndBadChecksumAreSkipped) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  // Build a real frame through fq, capture it from the pipe, then corrupt it.
  ASSERT_EQ(fq_send(q, "payload!", 8), 0);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  uint8_t frame[64];
  const ssize_t n = ::read(fd, frame, sizeof frame);
  ::close(fd);
  ASSERT_EQ(n, 16 + 8);
  uint8_t bad_body[24];
  std::memcpy(bad_body, frame, 24);
  bad_body[20] ^= 0x40;  // body bit flip: header fine, body CRC wrong
  uint8_t huge[16];
  std::memcpy(huge, frame, 16);
  huge[4] = huge[5] = huge[6] = huge[7] = 0xFF;  // claims 4 GiB; header CRC now wrong
  write_raw(path, bad_body, sizeof bad_body);
  write_raw(path, huge, sizeof huge);
  write_raw(path, frame, 24);  // the good one, after the bad ones
  char buf[16];
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 5000), 0);
  EXPECT_EQ(std::string(buf, len), "payload!");
  EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), FQ_EAGAIN);
  fq_stats st = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &st), 0);
  EXPECT_EQ(st.garbage_bytes, 24u + 16u);
  fq_close(q);
}

TEST(Garbage, ALineCutByAFrameIsDroppedNotMerged) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  write_raw(path, "half a li", 9);  // a writer that never wrote its newline
  ASSERT_EQ(fq_send(q, "frame", 5), 0);
  write_raw(path, "whole\n", 6);
  char buf[16];
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 5000), 0);
  EXPECT_EQ(std::string(buf, len), "frame");
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 5000), 0);
  EXPECT_EQ(std::string(buf, len), "whole");
  fq_close(q);
}

}  // namespace
