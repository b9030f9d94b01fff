// Queue state shared by every process (core/README.md, "Queue state"):
// attached senders and receivers, exact after SIGKILL, and the joinable
// queue (fq_task_done, fq_join) across processes.
#include <fcntl.h>

#include <chrono>
#include <filesystem>

#include "test_support.hpp"

using namespace fqtest;
using Clock = std::chrono::steady_clock;

namespace {

long elapsed_ms(Clock::time_point since) {
  return long(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

// A pipe used as an event between processes, so nobody sleeps to wait.
class Gate {
 public:
  Gate() {
    if (::pipe(fd_) != 0) std::abort();
  }
  ~Gate() {
    ::close(fd_[0]);
    ::close(fd_[1]);
  }
  void post() {
    if (::write(fd_[1], "x", 1) != 1) std::abort();
  }
  // Takes one post; false if none came within the bound.
  bool take(int timeout_ms = 30000) {
    pollfd p{fd_[0], POLLIN, 0};
    char c;
    return ::poll(&p, 1, timeout_ms) == 1 && ::read(fd_[0], &c, 1) == 1;
  }

 private:
  int fd_[2];
};

fq_stats stats_of(fq_queue *q) {
  fq_stats s = FQ_STATS_INIT;
  EXPECT_EQ(fq_get_stats(q, &s), 0);
  return s;
}

// Waits until `pid` sleeps, as a process blocked in fq_join does; false if it
// exited or did not within the bound.
bool wait_asleep(pid_t pid) {
  const auto t0 = Clock::now();
  while (elapsed_ms(t0) < 20000) {
    if (::waitpid(pid, nullptr, WNOHANG) != 0) return false;
    if (asleep(pid)) return true;
    ::sched_yield();
  }
  return false;
}

// A child that opens the queue with `flags`, says it is ready, and holds its
// handle until `release` is posted.
pid_t holder(const std::string &path, int flags, Gate &ready, Gate &release) {
  return spawn([&, flags] {
    fq_queue *q = nullptr;
    if (fq_open(path.c_str(), flags, &q) != 0) return 1;
    ready.post();
    if (!release.take(60000)) return 2;
    return fq_close(q);
  });
}

TEST(Attached, CountsHandlesInEveryProcessAndForgetsKilledOnes) {
  TempDir dir;
  const std::string path = dir.file("q");
  // Both roles on one handle: the kernel merges its two locks into one range.
  fq_queue *both = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(both, nullptr);
  fq_stats s = stats_of(both);
  EXPECT_EQ(s.senders, 1u);
  EXPECT_EQ(s.receivers, 1u);

  Gate ready, release;
  std::vector<pid_t> senders, receivers;
  for (int i = 0; i < 2; ++i) senders.push_back(holder(path, FQ_WRITE, ready, release));
  for (int i = 0; i < 3; ++i) receivers.push_back(holder(path, FQ_READ, ready, release));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ready.take()) << "a holder did not open the queue";
  s = stats_of(both);
  EXPECT_EQ(s.senders, 3u);
  EXPECT_EQ(s.receivers, 4u);

  // SIGKILL runs no fq code: the kernel drops the handle's locks itself.
  ::kill(receivers[0], SIGKILL);
  ASSERT_EQ(wait_exit(receivers[0]), -SIGKILL);
  s = stats_of(both);
  EXPECT_EQ(s.senders, 3u);
  EXPECT_EQ(s.receivers, 3u);
  ::kill(senders[0], SIGKILL);
  ASSERT_EQ(wait_exit(senders[0]), -SIGKILL);
  s = stats_of(both);
  EXPECT_EQ(s.senders, 2u);
  EXPECT_EQ(s.receivers, 3u);

  for (int i = 0; i < 3; ++i) release.post();
  EXPECT_EQ(wait_exit(senders[1]), 0);
  EXPECT_EQ(wait_exit(receivers[1]), 0);
  EXPECT_EQ(wait_exit(receivers[2]), 0);
  s = stats_of(both);
  EXPECT_EQ(s.senders, 1u);
  EXPECT_EQ(s.receivers, 1u);

  // A second handle in this process counts on its own.
  fq_queue *reader = open_or_die(path, FQ_READ);
  s = stats_of(reader);
  EXPECT_EQ(s.senders, 1u);
  EXPECT_EQ(s.receivers, 2u);
  fq_close(reader);
  fq_close(both);
}

// A fork child shares its parent's open file description, and so its locks,
// until its first call reconnects it with its own.
TEST(Attached, ForkChildCountsFromItsFirstCallAndLeavesTheParentCounted) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  const pid_t child = spawn([&] {
    fq_stats s = FQ_STATS_INIT;
    if (fq_get_stats(q, &s) != 0 || s.senders != 1) return 1;
    if (fq_send(q, "from child", 10) != 0) return 2;  // reconnects
    if (fq_get_stats(q, &s) != 0 || s.senders != 2) return 3;
    return fq_close(q) == 0 ? 0 : 4;
  });
  ASSERT_EQ(wait_exit(child), 0);
  const fq_stats s = stats_of(q);
  EXPECT_EQ(s.senders, 1u) << "the child's close took the parent's count with it";
  EXPECT_EQ(s.receivers, 0u);
  fq_close(q);
}

TEST(TaskDone, MoreCallsThanMessagesAreInvalid) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(fq_task_done(nullptr), FQ_EINVAL);
  EXPECT_EQ(fq_join(nullptr, 0), FQ_EINVAL);
  EXPECT_EQ(fq_task_done(q), FQ_EINVAL);
  EXPECT_EQ(fq_join(q, 0), 0) << "nothing sent, nothing to wait for";
  ASSERT_EQ(fq_send(q, "a", 1), 0);
  ASSERT_EQ(fq_send(q, "b", 1), 0);
  EXPECT_EQ(stats_of(q).unfinished, 2u);
  EXPECT_EQ(fq_task_done(q), 0);
  EXPECT_EQ(fq_task_done(q), 0);
  EXPECT_EQ(fq_task_done(q), FQ_EINVAL);
  EXPECT_EQ(stats_of(q).unfinished, 0u) << "a refused task_done must not move the count";
  EXPECT_EQ(fq_join(q, 0), 0);
  fq_close(q);
}

// Only fq's counted frames are work to join on: not FQ_LINES, not echo.
TEST(TaskDone, LinesAreNotCounted) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  fq_queue *lines = open_or_die(path, FQ_WRITE | FQ_LINES);
  ASSERT_NE(lines, nullptr);
  ASSERT_EQ(fq_send(lines, "a line", 6), 0);
  const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "echoed\n", 7), 7);
  ::close(fd);
  char buf[16];
  size_t len;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 1000), 0);
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 1000), 0);
  EXPECT_EQ(stats_of(q).unfinished, 0u);
  EXPECT_EQ(fq_join(q, 0), 0);
  fq_close(lines);
  fq_close(q);
}

// A send that fails after taking room sent nothing: nothing to finish.
TEST(TaskDone, FailedSendIsNotUnfinished) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.pipe_size = 4096;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE, &o);
  ASSERT_NE(q, nullptr);
  const std::vector<uint8_t> m(3000, 'p');
  ASSERT_EQ(fq_send_timeout(q, m.data(), m.size(), 0), 0);  // the pipe's one page is taken
  ASSERT_EQ(fq_send_timeout(q, m.data(), m.size(), 0), FQ_EAGAIN);
  EXPECT_EQ(stats_of(q).unfinished, 1u);
  fq_close(q);
}

// A receiver that takes one message, says so, waits for `go`, optionally
// creates `marker`, then calls fq_task_done.
pid_t worker(const std::string &path, Gate &got, Gate &go, const std::string &marker) {
  return spawn([&, marker] {
    fq_queue *q = nullptr;
    if (fq_open(path.c_str(), FQ_READ, &q) != 0) return 1;
    char buf[16];
    size_t len;
    if (fq_recv_timeout(q, buf, sizeof buf, &len, 30000) != 0) return 2;
    got.post();
    if (!go.take(60000)) return 3;
    if (!marker.empty()) ::close(::open(marker.c_str(), O_CREAT | O_WRONLY, 0600));
    if (fq_task_done(q) != 0) return 4;
    return fq_close(q);
  });
}

TEST(Join, ReturnsOnlyAfterTheLastTaskDoneAcrossProcesses) {
  TempDir dir;
  const std::string path = dir.file("q"), marker = dir.file("last-done");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "one", 3), 0);
  ASSERT_EQ(fq_send(q, "two", 3), 0);
  Gate got, go_a, go_b;
  const pid_t a = worker(path, got, go_a, "");
  const pid_t b = worker(path, got, go_b, marker);
  ASSERT_TRUE(got.take());
  ASSERT_TRUE(got.take());
  EXPECT_EQ(stats_of(q).unfinished, 2u) << "receiving is not finishing";
  go_a.post();
  ASSERT_EQ(wait_exit(a), 0);
  EXPECT_EQ(stats_of(q).unfinished, 1u);

  // A joiner in another process. The last task_done creates the marker before
  // it finishes, so a join that returned early finds no marker.
  const pid_t joiner = spawn([&] {
    fq_queue *j = nullptr;
    if (fq_open(path.c_str(), FQ_READ, &j) != 0) return 1;
    const int r = fq_join(j, 60000);
    if (r != 0) return 10 - r;
    if (::access(marker.c_str(), F_OK) != 0) return 3;
    return fq_close(j);
  });
  // One task is still outstanding: join does not return.
  EXPECT_EQ(fq_join(q, 0), FQ_EAGAIN);
  const auto t0 = Clock::now();
  EXPECT_EQ(fq_join(q, 200), FQ_ETIMEDOUT);
  EXPECT_GE(elapsed_ms(t0), 200);
  ASSERT_TRUE(wait_asleep(joiner)) << "the joiner returned instead of waiting";

  go_b.post();
  ASSERT_EQ(wait_exit(b), 0);
  EXPECT_EQ(wait_exit(joiner), 0) << "joiner did not return 0 after the last task_done";
  EXPECT_EQ(fq_join(q, 0), 0);
  EXPECT_EQ(stats_of(q).unfinished, 0u);
  fq_close(q);
}

TEST(Join, InterruptedBySignalReturnsEintr) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "work", 4), 0);
  int r;
  const auto t0 = Clock::now();
  {
    SignalPester pester;
    r = fq_join(q, 20000);
  }
  EXPECT_EQ(r, FQ_EINTR) << fq_strerror(r);
  EXPECT_LT(elapsed_ms(t0), 10000);
  EXPECT_EQ(stats_of(q).unfinished, 1u);
  ASSERT_EQ(fq_task_done(q), 0);
  EXPECT_EQ(fq_join(q, 1000), 0);
  fq_close(q);
}

TEST(Join, UnlinkWakesJoinersWithClosed) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "work", 4), 0);
  const pid_t joiner = spawn([&] {
    fq_queue *j = nullptr;
    if (fq_open(path.c_str(), FQ_READ, &j) != 0) return 1;
    const int r = fq_join(j, 60000);
    fq_close(j);
    return r == FQ_ECLOSED ? 0 : 10 - r;
  });
  ASSERT_TRUE(wait_asleep(joiner));
  ASSERT_EQ(fq_unlink(path.c_str()), 0);
  EXPECT_EQ(wait_exit(joiner, 20000), 0) << "the joiner did not get FQ_ECLOSED";
  EXPECT_EQ(fq_join(q, 0), FQ_ECLOSED);
  fq_close(q);
}

// Senders in `n` processes, each sending messages of every size class
// (inline, slot, payload file). Their frames are small: 100 per sender fit a
// pipe of 64 KiB, so they need no receiver.
std::vector<pid_t> start_senders(const std::string &path, int n, uint32_t per_sender) {
  std::vector<pid_t> tx;
  for (int s = 0; s < n; ++s) {
    tx.push_back(spawn([=] {
      fq_queue *q = nullptr;
      if (fq_open(path.c_str(), FQ_WRITE, &q) != 0) return 1;
      for (uint32_t i = 0; i < per_sender; ++i) {
        static const size_t kSizes[] = {16, 200, 30000, 100000};
        const auto m = make_msg(uint32_t(s), i, kSizes[i % 4]);
        if (fq_send(q, m.data(), m.size()) != 0) return 2;
      }
      return fq_close(q);
    }));
  }
  return tx;
}

TEST(Unfinished, CountsRightWithFourSendersAndFourReceivers) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *ctl = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(ctl, nullptr);
  constexpr uint32_t kPer = 100;

  // Senders only: every message is unfinished.
  for (pid_t p : start_senders(path, 4, kPer)) ASSERT_EQ(wait_exit(p), 0);
  fq_stats s = stats_of(ctl);
  EXPECT_EQ(s.unfinished, 4 * kPer);
  EXPECT_EQ(s.queued_msgs, 4 * kPer);

  // Receivers finish each message, an empty one included, and stop at it;
  // more senders run meanwhile.
  std::vector<pid_t> rx;
  for (int r = 0; r < 4; ++r) {
    rx.push_back(spawn([&] {
      fq_queue *q = nullptr;
      if (fq_open(path.c_str(), FQ_READ, &q) != 0) return 1;
      std::vector<uint8_t> buf(100000);
      for (;;) {
        size_t len = 0;
        if (fq_recv_timeout(q, buf.data(), buf.size(), &len, 60000) != 0) return 2;
        uint32_t sender, seq;
        if (len > 0 && !check_msg(buf.data(), len, sender, seq)) return 3;
        if (fq_task_done(q) != 0) return 4;
        if (len == 0) break;
      }
      return fq_close(q);
    }));
  }
  for (pid_t p : start_senders(path, 4, 3 * kPer)) ASSERT_EQ(wait_exit(p), 0);
  for (int r = 0; r < 4; ++r) ASSERT_EQ(fq_send(ctl, nullptr, 0), 0);
  ASSERT_EQ(fq_join(ctl, 60000), 0);
  // Every message sent before the join was finished, so every one was received.
  s = stats_of(ctl);
  EXPECT_EQ(s.received, 4 * kPer + 4 * 3 * kPer + 4);
  EXPECT_EQ(s.unfinished, 0u);
  for (pid_t p : rx) EXPECT_EQ(wait_exit(p), 0);
  EXPECT_EQ(fq_task_done(ctl), FQ_EINVAL) << "more finished than sent";
  fq_close(ctl);
}

// A message whose payload is gone can never be processed: dropping it
// finishes it, or join would wait for it forever.
TEST(Unfinished, DroppedMessageIsFinished) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  const std::vector<uint8_t> big(200000, 'b');  // past a slot: a payload file
  ASSERT_EQ(fq_send(q, big.data(), big.size()), 0);
  ASSERT_EQ(count_payload_files(path), 1u);
  for (const auto &f : payload_files(path)) std::filesystem::remove(f);
  ASSERT_EQ(count_payload_files(path), 0u);
  std::vector<uint8_t> buf(big.size());
  size_t len;
  EXPECT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 0), FQ_EAGAIN);
  const fq_stats s = stats_of(q);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.unfinished, 0u);
  EXPECT_EQ(fq_join(q, 0), 0);
  fq_close(q);
}

// The first holder keeps unfinished: a task taken by a receiver that then
// closed (or died) may still be finished later by another handle.
TEST(Unfinished, KeptWhenEveryProcessIsGone) {
  TempDir dir;
  const std::string path = dir.file("q");
  const pid_t sender = spawn([&] {
    fq_queue *q = nullptr;
    if (fq_open(path.c_str(), FQ_WRITE | FQ_CREATE, &q) != 0) return 1;
    for (int i = 0; i < 3; ++i) {
      if (fq_send(q, "task", 4) != 0) return 2;
    }
    return fq_close(q);
  });
  ASSERT_EQ(wait_exit(sender), 0);
  const pid_t taker = spawn([&] {
    fq_queue *q = nullptr;
    if (fq_open(path.c_str(), FQ_READ, &q) != 0) return 1;
    char buf[8];
    size_t len;
    if (fq_recv_timeout(q, buf, sizeof buf, &len, 0) != 0) return 2;
    ::raise(SIGKILL);  // dies holding the task, without closing
    return 3;
  });
  ASSERT_EQ(wait_exit(taker), -SIGKILL);
  // Nobody holds the queue: this open is its first holder and repairs it.
  fq_queue *q = open_or_die(path, FQ_READ);
  ASSERT_NE(q, nullptr);
  fq_stats s = stats_of(q);
  EXPECT_EQ(s.queued_msgs, 2u);
  EXPECT_EQ(s.unfinished, 3u);
  EXPECT_EQ(s.receivers, 1u);
  EXPECT_EQ(s.senders, 0u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fq_task_done(q), 0);
  EXPECT_EQ(fq_join(q, 0), 0);
  fq_close(q);
}

TEST(StateFile, TruncatedWhileNobodyHoldsTheQueueIsInitialisedAnew) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "staged", 6), 0);
  fq_close(q);  // the last holder stages it in the state file
  for (off_t size : {off_t(100), off_t(0), off_t(1 << 20)}) {
    ASSERT_EQ(::truncate((path + ".fq-state").c_str(), size), 0);
    q = open_or_die(path, FQ_READ | FQ_WRITE);
    ASSERT_NE(q, nullptr) << "size " << size;
    char buf[16];
    size_t len;
    EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), FQ_EAGAIN);  // staged, so lost
    ASSERT_EQ(fq_send(q, "fresh", 5), 0);                                // and the queue works
    ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), 0);
    EXPECT_EQ(std::string(buf, len), "fresh");
    fq_close(q);
  }
}

}  // namespace
