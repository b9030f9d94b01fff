// Guarantee 5: timeouts are honest and a signal reaches the caller.
#include <atomic>
#include <chrono>
#include <thread>

#include "test_support.hpp"

using namespace fqtest;
using Clock = std::chrono::steady_clock;

namespace {

long elapsed_ms(Clock::time_point since) {
  return long(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

TEST(Timeouts, ReceiveWaitsAsLongAsAskedAndNoLonger) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  char buf[8];
  size_t len;
  const auto t0 = Clock::now();
  EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 300), FQ_ETIMEDOUT);
  const long ms = elapsed_ms(t0);
  EXPECT_GE(ms, 300);
  EXPECT_LT(ms, 3000);  // an upper bound for a loaded machine, not a race
  const auto t1 = Clock::now();
  EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), FQ_EAGAIN);
  EXPECT_LT(elapsed_ms(t1), 1000);
  fq_close(q);
}

TEST(Timeouts, SendWaitsForRoomAsLongAsAsked) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.room_msgs = 1;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE, &o);
  ASSERT_EQ(fq_send(q, "x", 1), 0);
  const auto t0 = Clock::now();
  EXPECT_EQ(fq_send_timeout(q, "y", 1, 300), FQ_ETIMEDOUT);
  EXPECT_GE(elapsed_ms(t0), 300);
  EXPECT_LT(elapsed_ms(t0), 3000);
  fq_close(q);
}

TEST(Signals, InterruptedReceiveReturnsEintrAndConsumesNothing) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  char buf[8];
  size_t len;
  int r;
  {
    SignalPester pester;
    const auto t0 = Clock::now();
    r = fq_recv_timeout(q, buf, sizeof buf, &len, 20000);
    EXPECT_LT(elapsed_ms(t0), 10000);
  }
  EXPECT_EQ(r, FQ_EINTR);
  ASSERT_EQ(fq_send(q, "next", 4), 0);
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 1000), 0);
  EXPECT_EQ(std::string(buf, len), "next");
  fq_close(q);
}

TEST(Signals, InterruptedSendReturnsEintrAndSendsNothing) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.room_msgs = 1;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE, &o);
  ASSERT_EQ(fq_send(q, "first", 5), 0);
  int r;
  {
    SignalPester pester;
    r = fq_send_timeout(q, "second", 6, 20000);
  }
  EXPECT_EQ(r, FQ_EINTR);
  fq_stats st = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &st), 0);
  EXPECT_EQ(st.queued_msgs, 1u);
  char buf[8];
  size_t len;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 1000), 0);
  EXPECT_EQ(std::string(buf, len), "first");
  EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), FQ_EAGAIN);
  fq_close(q);
}

TEST(Signals, InterruptedSendOnAFullPipeSendsNothing) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.pipe_size = 4096;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE, &o);
  const std::vector<uint8_t> m(3000, 'p');
  ASSERT_EQ(fq_send_timeout(q, m.data(), m.size(), 0), 0);  // the pipe's one page is taken
  int r;
  {
    SignalPester pester;
    r = fq_send_timeout(q, m.data(), m.size(), 20000);
  }
  EXPECT_EQ(r, FQ_EINTR);
  std::vector<uint8_t> buf(4000);
  size_t len;
  ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 1000), 0);
  EXPECT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 0), FQ_EAGAIN);
  fq_close(q);
}

TEST(Unlink, WakesWaitersWithClosed) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  std::atomic<pid_t> tid{0};
  std::atomic<int> result{1};
  std::thread waiter([&] {
    tid = pid_t(::syscall(SYS_gettid));
    char buf[8];
    size_t len;
    result = fq_recv_timeout(q, buf, sizeof buf, &len, 20000);
  });
  // Remove the queue only once the waiter sleeps in its receive.
  const auto t0 = Clock::now();
  while ((tid == 0 || !asleep(tid)) && elapsed_ms(t0) < 10000) std::this_thread::yield();
  ASSERT_EQ(fq_unlink(path.c_str()), 0);
  waiter.join();
  EXPECT_EQ(result.load(), FQ_ECLOSED) << fq_strerror(result.load());
  EXPECT_LT(elapsed_ms(t0), 10000);
  EXPECT_EQ(fq_send(q, "x", 1), FQ_ECLOSED);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  fq_close(q);
}

}  // namespace
