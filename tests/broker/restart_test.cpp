// The broker restarts under load: every message whose send was confirmed is
// delivered once it is back, at least once. A duplicate is allowed only
// where the library could not know the outcome (a send or an ack cut off by
// the restart) for that very message, and is counted. Runs under with_rabbitmq.sh, which provides
// FQ_TEST_RMQ_RESTART.
#include <fq.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {

constexpr int kSenders = 2;
constexpr uint32_t kPerSender = 1500;
constexpr int kCallTimeoutMs = 5000;

using Clock = std::chrono::steady_clock;

// What the processes tell the test, in memory shared across fork.
struct Shared {
  std::atomic<uint32_t> received{0};         // distinct messages seen
  std::atomic<uint32_t> uncertain_sends{0};  // sends that failed and were sent again
  std::atomic<uint32_t> uncertain_acks{0};   // acks a connection error may have eaten
  std::atomic<uint32_t> duplicates{0};
  std::atomic<uint32_t> errors{0};  // calls that failed with FQ_EBROKER or a timeout
  std::atomic<int64_t> slowest_call_ms{0};
  std::atomic<uint8_t> seen[kSenders * kPerSender];  // times delivered
  // Where a duplicate is allowed: a send that failed (it may have been
  // stored) and was sent again, or an ack a connection error may have eaten.
  std::atomic<uint8_t> in_doubt[kSenders * kPerSender];
};

int64_t since_ms(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

void note_call(Shared &s, Clock::time_point t0) {
  const int64_t ms = since_ms(t0);
  int64_t old = s.slowest_call_ms.load();
  while (ms > old && !s.slowest_call_ms.compare_exchange_weak(old, ms)) {
  }
}

// A call that fails because the broker is away must fail fast and clearly.
bool transient(int rc) { return rc == FQ_EBROKER || rc == FQ_ETIMEDOUT || rc == FQ_ECLOSED; }

void pause_ms(int ms) {
  const timespec ts{0, ms * 1000000L};
  nanosleep(&ts, nullptr);
}

int run_sender(Shared &s, const std::string &name, uint32_t id) {
  fq_queue *q = nullptr;
  if (fq_open(name.c_str(), FQ_WRITE, &q) != 0) return 1;
  for (uint32_t i = 0; i < kPerSender; ++i) {
    const uint32_t msg[2] = {id, i};
    for (;;) {
      const auto t0 = Clock::now();
      const int rc = fq_send_timeout(q, msg, sizeof msg, kCallTimeoutMs);
      note_call(s, t0);
      if (rc == 0) break;
      if (!transient(rc)) return 2;
      ++s.errors;
      ++s.uncertain_sends;  // it may be in the queue already: sent again
      s.in_doubt[id * kPerSender + i] = 1;
      pause_ms(20);
    }
  }
  fq_close(q);
  return 0;
}

// Leases each message and acks it; stops once every message has been seen
// and the queue has stayed empty for a while (late duplicates count too).
int run_receiver(Shared &s, const std::string &name) {
  fq_queue *q = nullptr;
  if (fq_open(name.c_str(), FQ_READ, &q) != 0) return 1;
  const uint32_t total = kSenders * kPerSender;
  int64_t last_acked = -1;
  for (;;) {
    fq_msg *m = nullptr;
    const auto t0 = Clock::now();
    const int rc = fq_lease(q, &m, 60000, s.received.load() == total ? 3000 : kCallTimeoutMs);
    note_call(s, t0);
    if (rc == FQ_ETIMEDOUT && s.received.load() == total) break;
    if (rc != 0) {
      if (!transient(rc)) return 2;
      if (rc != FQ_ETIMEDOUT) {
        ++s.errors;
        if (last_acked >= 0) {  // that ack may not have reached the broker
          ++s.uncertain_acks;
          s.in_doubt[last_acked] = 1;
          last_acked = -1;
        }
      }
      pause_ms(20);
      continue;
    }
    uint32_t msg[2];
    if (fq_msg_size(m) != sizeof msg) return 3;
    std::memcpy(msg, fq_msg_data(m), sizeof msg);
    if (msg[0] >= kSenders || msg[1] >= kPerSender) return 4;
    const uint32_t index = msg[0] * kPerSender + msg[1];
    if (s.seen[index]++ == 0) {
      ++s.received;
    } else {
      ++s.duplicates;
    }
    last_acked = -1;  // the lease call just made proves the previous ack arrived
    const int ack = fq_ack(m);
    if (ack == 0) {
      last_acked = index;
    } else {
      if (ack != FQ_ELEASELOST) return 5;
      ++s.uncertain_acks;  // the broker gives it again
      s.in_doubt[index] = 1;
    }
    fq_msg_free(m);
  }
  fq_close(q);
  return 0;
}

int wait_for(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(BrokerRestart, EveryConfirmedMessageArrivesAfterARestartUnderLoad) {
  const char *restart = std::getenv("FQ_TEST_RMQ_RESTART");
  ASSERT_NE(restart, nullptr) << "run under tests/broker/with_rabbitmq.sh";
  const std::string name = "restart-test-" + std::to_string(getpid());
  fq_queue *q = nullptr;
  ASSERT_EQ(fq_open(name.c_str(), FQ_READ | FQ_WRITE | FQ_CREATE, &q), 0);

  void *mem =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  Shared &s = *new (mem) Shared;

  std::vector<pid_t> kids;
  for (uint32_t id = 0; id < kSenders; ++id) {
    const pid_t pid = fork();
    if (pid == 0) _exit(run_sender(s, name, id));
    kids.push_back(pid);
  }
  const pid_t receiver = fork();
  if (receiver == 0) _exit(run_receiver(s, name));

  // Restart once a fair share is through: messages in flight both ways.
  const auto t0 = Clock::now();
  while (s.received.load() < kSenders * kPerSender / 4 && since_ms(t0) < 120000) pause_ms(10);
  ASSERT_GE(s.received.load(), kSenders * kPerSender / 4u) << "no progress before the restart";
  ASSERT_EQ(std::system(restart), 0) << restart;

  for (pid_t pid : kids) EXPECT_EQ(wait_for(pid), 0) << "sender";
  EXPECT_EQ(wait_for(receiver), 0) << "receiver";

  uint32_t missing = 0, unexplained = 0;
  for (uint32_t i = 0; i < kSenders * kPerSender; ++i) {
    missing += s.seen[i].load() == 0;
    unexplained += s.seen[i].load() > 1 && !s.in_doubt[i].load();
  }
  EXPECT_EQ(missing, 0u) << "confirmed messages lost";
  EXPECT_EQ(unexplained, 0u) << "duplicates where no send or ack was in doubt";
  EXPECT_GT(s.errors.load(), 0u) << "the restart was not noticed: did it happen?";
  EXPECT_LT(s.slowest_call_ms.load(), 3 * kCallTimeoutMs) << "a call hung";
  std::printf(
      "restart: %u messages, %u duplicates (%u sends and %u acks in doubt), %u errors, "
      "slowest call %lld ms\n",
      kSenders * kPerSender, s.duplicates.load(), s.uncertain_sends.load(), s.uncertain_acks.load(),
      s.errors.load(), (long long)s.slowest_call_ms.load());

  fq_close(q);
  EXPECT_EQ(fq_unlink(name.c_str()), 0);
}

}  // namespace
