// Guarantee 6: a sender or receiver killed with SIGKILL mid-message neither
// wedges the queue nor corrupts other messages, and leaves no payload files.
// Counts the queue's payload files in /dev/shm before and after.
#include <signal.h>

#include "test_support.hpp"

using namespace fqtest;

namespace {

constexpr size_t kBig = 8u << 20;
constexpr size_t kMedium = 40000;  // travels in an arena slot

TEST(Crash, SenderKilledMidLargeMessage) {
  TempDir dir;
  const std::string path = dir.file("q");
  {
    fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
    std::vector<uint8_t> buf(kBig);
    for (uint32_t round = 0; round < 5; ++round) {
      const pid_t sender = spawn([&] {
        fq_queue *w = nullptr;
        if (fq_open(path.c_str(), FQ_WRITE, &w) != 0) return 1;
        for (uint32_t i = 0;; ++i) {
          // Payload files and arena slots alike.
          const auto m = make_msg(round, i, i % 2 ? kBig - i % 3 : kMedium);
          if (fq_send(w, m.data(), m.size()) != 0) return 2;
        }
      });
      // Once one message is through, the sender is busy with the next one.
      size_t len = 0;
      ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 30000), 0);
      ASSERT_EQ(::kill(sender, SIGKILL), 0);
      ASSERT_EQ(wait_exit(sender), -SIGKILL);
      uint32_t s, seq;
      ASSERT_TRUE(check_msg(buf.data(), len, s, seq));
      // Whatever it completed before dying arrives whole and in order.
      uint32_t next = seq + 1;
      while (fq_recv_timeout(q, buf.data(), buf.size(), &len, 0) == 0) {
        ASSERT_TRUE(check_msg(buf.data(), len, s, seq)) << "corrupt message after a kill";
        EXPECT_EQ(seq, next++);
      }
      // Not wedged: the queue still carries messages both ways.
      const auto m = make_msg(100, round, 5000);
      ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
      ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 5000), 0);
      ASSERT_TRUE(check_msg(buf.data(), len, s, seq));
      EXPECT_EQ(s, 100u);
    }
    fq_close(q);
  }
  // The next first holder removes the payloads the killed senders left.
  fq_queue *q = open_or_die(path, FQ_READ);
  fq_close(q);
  EXPECT_EQ(count_payload_files(path), 0u);
}

TEST(Crash, ReceiverKilledMidLargeMessage) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  constexpr uint32_t kMsgs = 40;
  for (uint32_t i = 0; i < kMsgs; ++i) {
    const auto m = make_msg(0, i, i % 3 == 0 ? kBig : i % 3 == 1 ? kMedium : 3000);
    ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
  }
  int rfd[2];
  ASSERT_EQ(::pipe(rfd), 0);
  const pid_t receiver = spawn([&] {
    fq_queue *r = nullptr;
    if (fq_open(path.c_str(), FQ_READ, &r) != 0) return 1;
    std::vector<uint8_t> buf(kBig);
    for (;;) {
      size_t len;
      if (fq_recv_timeout(r, buf.data(), buf.size(), &len, 30000) != 0) return 2;
      uint32_t s, seq;
      if (!check_msg(buf.data(), len, s, seq)) return 3;
      if (::write(rfd[1], &seq, sizeof seq) != sizeof seq) return 4;
    }
  });
  ::close(rfd[1]);
  uint32_t got = 0, seq = 0;
  std::vector<bool> seen(kMsgs, false);
  // Let it take a few, then kill it while it is inside the next receive.
  for (; got < 3; ++got) {
    ASSERT_EQ(::read(rfd[0], &seq, sizeof seq), ssize_t(sizeof seq));
    seen[seq] = true;
  }
  ASSERT_EQ(::kill(receiver, SIGKILL), 0);
  EXPECT_EQ(wait_exit(receiver), -SIGKILL);
  while (::read(rfd[0], &seq, sizeof seq) == ssize_t(sizeof seq)) {
    seen[seq] = true;
    ++got;
  }
  ::close(rfd[0]);
  std::vector<uint8_t> buf(kBig);
  size_t len;
  uint32_t s;
  uint32_t after = 0;
  while (fq_recv_timeout(q, buf.data(), buf.size(), &len, 0) == 0) {
    ASSERT_TRUE(check_msg(buf.data(), len, s, seq)) << "corrupt message after a kill";
    ASSERT_FALSE(seen[seq]) << "message " << seq << " delivered twice";
    seen[seq] = true;
    ++after;
  }
  fq_stats st = FQ_STATS_INIT;
  fq_get_stats(q, &st);
  // At most the one message in the killed receiver's hands is lost.
  EXPECT_GE(got + after, kMsgs - 1) << "lost_reads " << st.lost_reads << " dropped " << st.dropped
                                    << " garbage " << st.garbage_bytes << " got " << got;
  EXPECT_GE(after, 1u);
  fq_close(q);
  EXPECT_EQ(count_payload_files(path), 0u) << "a payload of the killed receiver was left behind";
}

}  // namespace
