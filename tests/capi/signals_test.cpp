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

// A helper process that sends SIGUSR1 to us every few milliseconds until we
// tell it to stop: whichever signal lands while we block interrupts the call,
// without guessing when the call has started blocking.
class SignalPester {
 public:
  SignalPester() {
    struct sigaction sa = {};
    sa.sa_handler = [](int) {};
    sa.sa_flags = 0;  // no SA_RESTART: the wait must see EINTR
    sigaction(SIGUSR1, &sa, &old_);
    const pid_t target = ::getpid();
    if (::pipe(stop_) != 0) std::abort();
    pid_ = spawn([&] {
      ::close(stop_[1]);
      pollfd p{stop_[0], POLLIN, 0};
      while (::poll(&p, 1, 5) == 0) ::kill(target, SIGUSR1);
      return 0;
    });
    ::close(stop_[0]);
  }
  ~SignalPester() {
    // Block, reap, then swallow a signal still in flight, so none lands in a
    // later test (valgrind in particular delivers signals late).
    sigset_t usr1, old_mask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);
    ::close(stop_[1]);
    wait_exit(pid_);
    const timespec zero{0, 0};
    while (sigtimedwait(&usr1, nullptr, &zero) == SIGUSR1) {
    }
    sigaction(SIGUSR1, &old_, nullptr);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  }

 private:
  struct sigaction old_ = {};
  int stop_[2];
  pid_t pid_;
};

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

// True once thread `tid` of this process is asleep (state S), as a thread
// blocked in fq_recv is.
bool thread_sleeping(pid_t tid) {
  FILE *f = std::fopen(("/proc/self/task/" + std::to_string(tid) + "/stat").c_str(), "r");
  if (!f) return false;
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const char *close_paren = std::strrchr(buf, ')');  // the name may hold spaces
  return n > 0 && close_paren && close_paren[1] == ' ' && close_paren[2] == 'S';
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
  while ((tid == 0 || !thread_sleeping(tid)) && elapsed_ms(t0) < 10000) std::this_thread::yield();
  ASSERT_EQ(fq_unlink(path.c_str()), 0);
  waiter.join();
  EXPECT_EQ(result.load(), FQ_ECLOSED) << fq_strerror(result.load());
  EXPECT_LT(elapsed_ms(t0), 10000);
  EXPECT_EQ(fq_send(q, "x", 1), FQ_ECLOSED);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  fq_close(q);
}

}  // namespace
