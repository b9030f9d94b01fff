// Acknowledged delivery, retries and dead letters (core/README.md, "Envelopes,
// leases and dead letters"), with real processes wherever one can die.
#include <climits>
#include <map>
#include <set>

#include "test_support.hpp"

using namespace fqtest;

namespace {

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string bytes_of(const fq_msg *m) {
  return std::string(static_cast<const char *>(fq_msg_data(m)), fq_msg_size(m));
}

void set_policy(fq_queue *q, unsigned max_attempts, unsigned base_ms, double factor,
                unsigned jitter_pct) {
  fq_policy p = FQ_POLICY_INIT;
  p.max_attempts = max_attempts;
  p.backoff_base_ms = base_ms;
  p.backoff_factor = factor;
  p.jitter_pct = jitter_pct;
  ASSERT_EQ(fq_set_policy(q, &p), 0);
}

// A pipe a child writes one byte to when it has reached a point.
struct Signal {
  int fd[2];
  Signal() {
    if (::pipe(fd) != 0) std::abort();
  }
  ~Signal() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void post(char c) { (void)!::write(fd[1], &c, 1); }
  char wait(int timeout_ms = 30000) {
    pollfd p{fd[0], POLLIN, 0};
    char c = 0;
    if (::poll(&p, 1, timeout_ms) == 1 && ::read(fd[0], &c, 1) == 1) return c;
    return 0;
  }
};

TEST(Leases, ReceiverKilledHoldingALeaseLosesNothing) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  const std::string big(100000, 'x');  // a payload file, renamed into the held table
  for (const std::string &payload : {std::string("job-1"), big}) {
    ASSERT_EQ(fq_send(q, payload.data(), payload.size()), 0);
    Signal got;
    const pid_t worker = spawn([&] {
      fq_queue *wq = nullptr;
      fq_msg *m = nullptr;
      if (fq_open(path.c_str(), FQ_READ, &wq) != 0) return 1;
      if (fq_lease(wq, &m, 60000, 10000) != 0) return 2;  // a lease far longer than the test
      got.post(fq_msg_attempts(m) == 1 && bytes_of(m) == payload ? 'y' : 'n');
      ::pause();  // crash mid-work
      return 3;
    });
    ASSERT_EQ(got.wait(), 'y');
    ASSERT_EQ(::kill(worker, SIGKILL), 0);
    ASSERT_EQ(wait_exit(worker), -SIGKILL);
    // Another receiver gets it as soon as the death is noticed, long before the lease ends.
    fq_msg *m = nullptr;
    const int64_t t0 = now_ms();
    ASSERT_EQ(fq_lease(q, &m, 60000, 10000), 0);
    EXPECT_LT(now_ms() - t0, 5000);
    EXPECT_EQ(bytes_of(m), payload);
    EXPECT_EQ(fq_msg_attempts(m), 2u);
    EXPECT_EQ(fq_ack(m), 0);
    fq_msg_free(m);
    size_t len = 0;
    char buf[16];
    EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), FQ_EAGAIN);  // acked: gone
  }
  fq_stats s = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &s), 0);
  EXPECT_EQ(s.redelivered, 2u);
  EXPECT_EQ(s.held, 0u);
  fq_close(q);
  EXPECT_EQ(count_payload_files(path), 0u);
}

TEST(Leases, HeldMessagesOutliveEveryProcess) {
  TempDir dir;
  const std::string path = dir.file("q");
  // One process schedules a retry and exits; another leases a message and
  // dies. Nobody holds the queue in between.
  // Read before the child starts: it may schedule its retry before the
  // parent runs again, and the retry is due 300 ms after that, not after us.
  const int64_t retried_from = now_ms();
  const pid_t retrier = spawn([&] {
    fq_queue *q = nullptr;
    fq_msg *m = nullptr;
    if (fq_open(path.c_str(), FQ_READ | FQ_WRITE | FQ_CREATE, &q) != 0) return 1;
    if (fq_send(q, "later", 5) != 0 || fq_recv_msg(q, &m, 0) != 0) return 2;
    if (bytes_of(m) != "later" || fq_retry(m, "not yet", 300) != 0) return 3;
    fq_msg_free(m);
    return fq_close(q);
  });
  ASSERT_EQ(wait_exit(retrier), 0);
  const pid_t crasher = spawn([&] {
    fq_queue *q = nullptr;
    fq_msg *m = nullptr;
    if (fq_open(path.c_str(), FQ_READ | FQ_WRITE, &q) != 0) return 1;
    if (fq_send(q, "leased", 6) != 0 || fq_lease(q, &m, 600000, 0) != 0) return 2;
    ::raise(SIGKILL);
    return 3;
  });
  ASSERT_EQ(wait_exit(crasher), -SIGKILL);
  fq_queue *q = open_or_die(path, FQ_READ);
  ASSERT_NE(q, nullptr);
  // The dead holder's lease ends with it: due at once, not in ten minutes.
  // The retry keeps its time. (On a slow machine — valgrind — the retry may
  // be due by now as well, so take both in either order.)
  std::map<std::string, fq_msg *> got;
  for (int timeout : {0, 5000}) {
    fq_msg *m = nullptr;
    ASSERT_EQ(fq_lease(q, &m, 60000, timeout), 0) << "lease with timeout " << timeout;
    got[bytes_of(m)] = m;
  }
  ASSERT_EQ(got.size(), 2u);
  fq_msg *leased = got["leased"], *later = got["later"];
  ASSERT_NE(leased, nullptr);
  ASSERT_NE(later, nullptr);
  EXPECT_EQ(fq_msg_attempts(leased), 2u);
  EXPECT_GE(now_ms() - retried_from, 300);
  EXPECT_GE(fq_msg_not_before_ms(later), fq_msg_enqueued_ms(later) + 300);
  EXPECT_STREQ(fq_msg_reason(later), "not yet");
  EXPECT_EQ(fq_msg_attempts(later), 2u);
  for (fq_msg *m : {leased, later}) {
    EXPECT_EQ(fq_ack(m), 0);
    fq_msg_free(m);
  }
  fq_close(q);
}

TEST(Leases, AnExpiredLeaseIsRedeliveredOnceNotTwice) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "slow", 4), 0);
  fq_msg *slow = nullptr;
  ASSERT_EQ(fq_lease(q, &slow, 200, 0), 0);  // held by a worker that stays alive, too long
  // Two competing receivers in other processes: exactly one gets it, once.
  Signal result;
  std::vector<pid_t> rx;
  for (int i = 0; i < 2; ++i) {
    rx.push_back(spawn([&] {
      fq_queue *wq = nullptr;
      fq_msg *m = nullptr;
      if (fq_open(path.c_str(), FQ_READ, &wq) != 0) return 1;
      const int r = fq_lease(wq, &m, 60000, 2000);
      int rc = 0;
      if (r == FQ_ETIMEDOUT) {
        result.post('t');
      } else if (r != 0) {
        rc = 2;
      } else {
        result.post(fq_msg_attempts(m) == 2 && bytes_of(m) == "slow" ? 'g' : 'n');
        rc = fq_ack(m) == 0 ? 0 : 3;
        fq_msg_free(m);
      }
      fq_close(wq);
      return rc;
    }));
  }
  std::multiset<char> outcomes = {result.wait(), result.wait()};
  EXPECT_EQ(outcomes, (std::multiset<char>{'g', 't'}));
  for (pid_t p : rx) EXPECT_EQ(wait_exit(p), 0);
  // The first holder finishes late: its lease is gone.
  EXPECT_EQ(fq_ack(slow), FQ_ELEASELOST);
  EXPECT_EQ(fq_msg_leased(slow), 0);
  fq_msg_free(slow);
  fq_msg *again = nullptr;
  EXPECT_EQ(fq_lease(q, &again, 1000, 300), FQ_ETIMEDOUT);
  fq_close(q);
}

TEST(Leases, FreeingAnUnsettledLeaseGivesItBackAtOnce) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "a", 1), 0);
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_lease(q, &m, 60000, 0), 0);
  EXPECT_EQ(fq_msg_leased(m), 1);
  fq_msg_free(m);
  ASSERT_EQ(fq_lease(q, &m, 60000, 0), 0);
  EXPECT_EQ(bytes_of(m), "a");
  EXPECT_EQ(fq_msg_attempts(m), 2u);
  EXPECT_EQ(fq_ack(m), 0);
  EXPECT_EQ(fq_ack(m), 0);  // a second ack of a settled message changes nothing
  fq_msg_free(m);
  fq_close(q);
}

TEST(Leases, FourLeasingReceiversGetEachMessageOnce) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  constexpr uint32_t kMsgs = 400;
  const size_t sizes[] = {20, 3000, 5000, 70000};  // inline, with envelope past inline, slot, file
  std::vector<pid_t> rx;
  for (int r = 0; r < 4; ++r) {
    const std::string out = dir.file("seen" + std::to_string(r));
    rx.push_back(spawn([=] {
      fq_queue *wq = nullptr;
      if (fq_open(path.c_str(), FQ_READ, &wq) != 0) return 1;
      FILE *f = std::fopen(out.c_str(), "w");
      for (;;) {
        fq_msg *m = nullptr;
        if (fq_lease(wq, &m, 60000, 30000) != 0) return 2;
        if (fq_msg_size(m) == 0) {
          fq_ack(m);
          fq_msg_free(m);
          break;
        }
        uint32_t sender, seq;
        if (!check_msg(static_cast<const uint8_t *>(fq_msg_data(m)), fq_msg_size(m), sender, seq))
          return 3;
        if (fq_ack(m) != 0) return 4;
        fq_msg_free(m);
        std::fprintf(f, "%u\n", seq);
      }
      std::fclose(f);
      return fq_close(wq);
    }));
  }
  for (uint32_t i = 0; i < kMsgs; ++i) {
    const auto m = make_msg(0, i, sizes[i % 4]);
    ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
  }
  for (int r = 0; r < 4; ++r) ASSERT_EQ(fq_send(q, "", 0), 0);
  for (pid_t p : rx) EXPECT_EQ(wait_exit(p), 0);
  std::multiset<uint32_t> seen;
  for (int r = 0; r < 4; ++r) {
    FILE *f = std::fopen(dir.file("seen" + std::to_string(r)).c_str(), "r");
    ASSERT_NE(f, nullptr);
    unsigned v;
    while (std::fscanf(f, "%u", &v) == 1) seen.insert(v);
    std::fclose(f);
  }
  ASSERT_EQ(seen.size(), kMsgs);
  for (uint32_t i = 0; i < kMsgs; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
  fq_stats s = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &s), 0);
  EXPECT_EQ(s.held, 0u);
  EXPECT_EQ(s.redelivered, 0u);
  fq_close(q);
  EXPECT_EQ(count_payload_files(path), 0u);
}

TEST(Retries, ThreeFailuresLandInTheDeadLetterQueueWithTheirHistory) {
  TempDir dir;
  const std::string path = dir.file("jobs");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  set_policy(q, 3, 10, 2.0, 0);
  std::string payload(9000, '\0');  // binary, past a frame: a slot
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = char(i * 7);
  ASSERT_EQ(fq_send(q, payload.data(), payload.size()), 0);
  const int64_t wall0 = time(nullptr) * int64_t(1000);
  // The worker fails it every time, in a process of its own.
  const pid_t worker = spawn([&] {
    fq_queue *wq = nullptr;
    if (fq_open(path.c_str(), FQ_READ, &wq) != 0) return 1;
    // Closed at the end: a dead-letter queue held by nobody else keeps its
    // messages only through an orderly close.
    for (unsigned n = 1; n <= 3; ++n) {
      fq_msg *m = nullptr;
      if (fq_lease(wq, &m, 60000, 10000) != 0) return 2;
      if (fq_msg_attempts(m) != n || bytes_of(m) != payload) return 3;
      const std::string why = "boom " + std::to_string(n);
      int64_t retry_ms = 0;
      if (fq_fail(m, why.c_str(), 0, &retry_ms) != 0) return 4;
      if (retry_ms != (n < 3 ? int64_t(10) << (n - 1) : -1)) return 5;
      fq_msg_free(m);
    }
    return fq_close(wq) == 0 ? 0 : 6;
  });
  ASSERT_EQ(wait_exit(worker), 0);
  fq_msg *m = nullptr;
  EXPECT_EQ(fq_lease(q, &m, 1000, 100), FQ_ETIMEDOUT);  // not in the source any more
  fq_queue *dlq = open_or_die(path + ".dlq", FQ_READ);
  ASSERT_NE(dlq, nullptr);
  ASSERT_EQ(fq_recv_msg(dlq, &m, 1000), 0);
  EXPECT_EQ(bytes_of(m), payload);
  EXPECT_EQ(fq_msg_attempts(m), 4u);  // three failed deliveries, and this one
  EXPECT_EQ(fq_msg_deaths(m), 1u);
  EXPECT_STREQ(fq_msg_reason(m), "boom 3");
  char real[PATH_MAX];
  if (over_broker()) {
    EXPECT_STREQ(fq_msg_origin(m), path.c_str());  // a queue name, as given
  } else {
    ASSERT_NE(realpath(path.c_str(), real), nullptr);
    EXPECT_STREQ(fq_msg_origin(m), real);
  }
  EXPECT_EQ(fq_msg_permanent(m), 0);
  EXPECT_GE(fq_msg_first_death_ms(m), wall0);
  EXPECT_EQ(fq_msg_first_death_ms(m), fq_msg_last_death_ms(m));
  EXPECT_GE(fq_msg_last_death_ms(m), fq_msg_enqueued_ms(m));
  EXPECT_GE(fq_msg_enqueued_ms(m), wall0);
  fq_msg_free(m);
  if (over_broker()) {  // no dead log; counters are the handle's own (core/broker.md)
    fq_close(dlq);
    fq_close(q);
    return;
  }
  // The durable record says the same.
  fq_dead_log *log = nullptr;
  ASSERT_EQ(fq_dead_open(path.c_str(), &log), 0);
  ASSERT_EQ(fq_dead_next(log, &m), 0);
  EXPECT_EQ(bytes_of(m), payload);
  EXPECT_STREQ(fq_msg_reason(m), "boom 3");
  EXPECT_EQ(fq_msg_deaths(m), 1u);
  fq_msg_free(m);
  EXPECT_EQ(fq_dead_next(log, &m), FQ_EAGAIN);
  fq_dead_close(log);
  fq_stats s = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &s), 0);
  EXPECT_EQ(s.retried, 2u);
  EXPECT_EQ(s.dead_lettered, 1u);
  EXPECT_EQ(s.held, 0u);
  fq_close(dlq);
  fq_close(q);
}

TEST(Retries, BackoffDelaysGrowAndAreHonoured) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  set_policy(q, 5, 100, 2.0, 0);
  ASSERT_EQ(fq_send(q, "flaky", 5), 0);
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_lease(q, &m, 60000, 0), 0);
  for (int64_t want : {100, 200, 400, 800}) {
    int64_t retry_ms = 0;
    const int64_t failed_at = now_ms();
    ASSERT_EQ(fq_fail(m, "again", 0, &retry_ms), 0);
    EXPECT_EQ(retry_ms, want);
    fq_msg_free(m);
    // A message sent behind it is not held up by it.
    ASSERT_EQ(fq_send(q, "other", 5), 0);
    ASSERT_EQ(fq_lease(q, &m, 60000, 0), 0);
    EXPECT_EQ(bytes_of(m), "other");
    EXPECT_EQ(fq_ack(m), 0);
    fq_msg_free(m);
    // Waiting for it returns no earlier than its delay, and not much later.
    ASSERT_EQ(fq_lease(q, &m, 60000, 5000), 0);
    const int64_t waited = now_ms() - failed_at;
    EXPECT_EQ(bytes_of(m), "flaky");
    EXPECT_GE(waited, want);
    EXPECT_LT(waited, want + 250);  // scheduling slack on a loaded 2-core machine
    EXPECT_GT(fq_msg_not_before_ms(m), 0);
  }
  EXPECT_EQ(fq_msg_attempts(m), 5u);
  int64_t retry_ms = 0;
  EXPECT_EQ(fq_fail(m, "last", 0, &retry_ms), 0);
  EXPECT_EQ(retry_ms, -1);  // five attempts: dead
  fq_msg_free(m);
  fq_close(q);
}

TEST(Retries, JitterStaysWithinItsShare) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  set_policy(q, 100, 10000, 1.0, 50);
  ASSERT_EQ(fq_send(q, "j", 1), 0);
  std::set<int64_t> delays;
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_recv_msg(q, &m, 0), 0);
  for (int i = 0; i < 20; ++i) {
    int64_t retry_ms = 0;
    ASSERT_EQ(fq_fail(m, "x", 0, &retry_ms), 0);
    EXPECT_GE(retry_ms, 5000);
    EXPECT_LE(retry_ms, 10000);
    delays.insert(retry_ms);
  }
  EXPECT_GT(delays.size(), 1u);  // random, not a constant
  fq_msg_free(m);
  fq_close(q);
}

TEST(Retries, APermanentFailureSkipsTheRetries) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "bad url", 7), 0);
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_lease(q, &m, 60000, 0), 0);
  int64_t retry_ms = 0;
  ASSERT_EQ(fq_fail(m, "404 not found", FQ_PERMANENT, &retry_ms), 0);
  EXPECT_EQ(retry_ms, -1);
  EXPECT_EQ(fq_msg_leased(m), 0);
  fq_msg_free(m);
  fq_queue *dlq = open_or_die(path + ".dlq", FQ_READ);
  ASSERT_NE(dlq, nullptr);
  ASSERT_EQ(fq_recv_msg(dlq, &m, 1000), 0);
  EXPECT_EQ(bytes_of(m), "bad url");
  EXPECT_EQ(fq_msg_permanent(m), 1);
  EXPECT_STREQ(fq_msg_reason(m), "404 not found");
  fq_msg_free(m);
  EXPECT_EQ(fq_lease(q, &m, 1000, 0), FQ_EAGAIN);
  fq_close(dlq);
  fq_close(q);
}

TEST(Retries, DeadLettersOutliveEveryProcessThatHeldTheQueue) {
  TempDir dir;
  const std::string path = dir.file("q"), dlq_path = path + ".dlq";
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  // Another process holds the dead-letter queue, so the dead-lettering
  // process is not its last holder and does not drain the pipe at close.
  Signal ready;
  const pid_t holder = spawn([&] {
    fq_queue *h = nullptr;
    if (fq_open(dlq_path.c_str(), FQ_WRITE | FQ_CREATE, &h) != 0) return 1;
    ready.post('r');
    ::pause();
    return 2;
  });
  ASSERT_EQ(ready.wait(), 'r');
  ASSERT_EQ(fq_send(q, "doomed", 6), 0);
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_recv_msg(q, &m, 0), 0);
  ASSERT_EQ(fq_dead_letter(m, "why"), 0);
  fq_msg_free(m);
  // The holder dies without closing: the pipe dies with it, staging does not.
  ASSERT_EQ(::kill(holder, SIGKILL), 0);
  ASSERT_EQ(wait_exit(holder), -SIGKILL);
  fq_queue *dlq = open_or_die(dlq_path, FQ_READ);
  ASSERT_NE(dlq, nullptr);
  ASSERT_EQ(fq_recv_msg(dlq, &m, 0), 0);
  EXPECT_EQ(bytes_of(m), "doomed");
  EXPECT_STREQ(fq_msg_reason(m), "why");
  fq_msg_free(m);
  fq_close(dlq);
  fq_close(q);
}

TEST(Retries, PlainReceiversGetRetriedMessagesAndLinesGainAnEnvelope) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  fq_queue *lines = open_or_die(path, FQ_WRITE | FQ_LINES);
  ASSERT_NE(lines, nullptr);
  ASSERT_EQ(fq_send(lines, "echo job", 8), 0);
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_recv_msg(q, &m, 0), 0);
  EXPECT_EQ(bytes_of(m), "echo job");
  EXPECT_EQ(fq_msg_attempts(m), 1u);
  EXPECT_STREQ(fq_msg_reason(m), "");
  ASSERT_EQ(fq_retry(m, "try later", 0), 0);  // received without a lease: held anew
  fq_msg_free(m);
  char buf[64];
  size_t len = 0;
  ASSERT_EQ(fq_next_size(q, &len, 0), 0);
  EXPECT_EQ(len, 8u);
  len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, 3, &len, 0), FQ_ETOOSMALL);
  EXPECT_EQ(len, 8u);
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), 0);
  EXPECT_EQ(std::string(buf, len), "echo job");
  // A line dead-lettered travels on as a frame with its envelope.
  ASSERT_EQ(fq_send(lines, "bad", 3), 0);
  ASSERT_EQ(fq_recv_msg(q, &m, 0), 0);
  ASSERT_EQ(fq_dead_letter(m, "unparseable"), 0);
  fq_msg_free(m);
  fq_queue *dlq = open_or_die(path + ".dlq", FQ_READ);
  ASSERT_NE(dlq, nullptr);
  ASSERT_EQ(fq_recv_timeout(dlq, buf, sizeof buf, &len, 0), 0);  // plain receive: payload only
  EXPECT_EQ(std::string(buf, len), "bad");
  fq_close(dlq);
  fq_close(lines);
  fq_close(q);
}

TEST(Redrive, MovesEverythingBackWithNothingLostOrDuplicated) {
  TempDir dir;
  const std::string path = dir.file("src");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  constexpr uint32_t kMsgs = 60;
  for (uint32_t i = 0; i < kMsgs; ++i) {
    const auto m = make_msg(1, i, i % 3 == 0 ? 100000 : 100);
    ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
    fq_msg *r = nullptr;
    ASSERT_EQ(fq_recv_msg(q, &r, 0), 0);
    ASSERT_EQ(fq_dead_letter(r, "db down"), 0);
    fq_msg_free(r);
  }
  // The operator fixes the cause and replays, from another process and directory.
  const pid_t redriver = spawn([&] {
    if (::chdir("/") != 0) return 1;
    fq_queue *dlq = nullptr;
    if (fq_open((path + ".dlq").c_str(), FQ_READ, &dlq) != 0) return 2;
    size_t moved = 0;
    const int rc = fq_redrive(dlq, nullptr, &moved);
    fq_close(dlq);
    if (rc != 0) return 3;
    return moved == kMsgs ? 0 : 4;
  });
  ASSERT_EQ(wait_exit(redriver), 0);
  std::set<uint32_t> seen;
  fq_msg *m = nullptr;
  while (fq_recv_msg(q, &m, 0) == 0) {
    uint32_t sender, seq;
    ASSERT_TRUE(
        check_msg(static_cast<const uint8_t *>(fq_msg_data(m)), fq_msg_size(m), sender, seq));
    EXPECT_TRUE(seen.insert(seq).second) << "duplicate " << seq;
    EXPECT_EQ(fq_msg_attempts(m), 1u);  // a fresh start
    EXPECT_EQ(fq_msg_deaths(m), 1u);    // its history kept
    EXPECT_STREQ(fq_msg_reason(m), "db down");
    fq_msg_free(m);
  }
  EXPECT_EQ(seen.size(), kMsgs);
  fq_queue *dlq = open_or_die(path + ".dlq", FQ_READ);
  ASSERT_NE(dlq, nullptr);
  EXPECT_EQ(fq_recv_msg(dlq, &m, 0), FQ_EAGAIN);  // empty
  size_t moved = 99;
  EXPECT_EQ(fq_redrive(dlq, nullptr, &moved), 0);
  EXPECT_EQ(moved, 0u);
  fq_close(dlq);
  fq_close(q);
  fq_unlink((path + ".dlq").c_str());
}

TEST(Policy, DefaultsAndValidation) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  fq_policy p = {sizeof(fq_policy), 0, 0, 0, 0, 0.0, 0};
  ASSERT_EQ(fq_get_policy(q, &p), 0);
  const fq_policy d = FQ_POLICY_INIT;
  EXPECT_EQ(p.max_attempts, d.max_attempts);
  EXPECT_EQ(p.lease_ms, d.lease_ms);
  EXPECT_EQ(p.backoff_base_ms, d.backoff_base_ms);
  EXPECT_EQ(p.backoff_cap_ms, d.backoff_cap_ms);
  EXPECT_EQ(p.backoff_factor, d.backoff_factor);
  EXPECT_EQ(p.jitter_pct, d.jitter_pct);
  p.max_attempts = 0;
  EXPECT_EQ(fq_set_policy(q, &p), FQ_EINVAL);
  p.max_attempts = 2;
  p.backoff_factor = 0.5;
  EXPECT_EQ(fq_set_policy(q, &p), FQ_EINVAL);
  p.backoff_factor = 3;
  p.jitter_pct = 101;
  EXPECT_EQ(fq_set_policy(q, &p), FQ_EINVAL);
  p.jitter_pct = 0;
  ASSERT_EQ(fq_set_policy(q, &p), 0);
  // Another process sees the same policy.
  const std::string path = dir.file("q");
  const pid_t child = spawn([&] {
    fq_queue *cq = nullptr;
    fq_policy got = FQ_POLICY_INIT;
    if (fq_open(path.c_str(), FQ_READ, &cq) != 0) return 1;
    const int rc = fq_get_policy(cq, &got);
    fq_close(cq);
    if (rc != 0) return 1;
    return got.max_attempts == 2 && got.backoff_factor == 3.0 ? 0 : 2;
  });
  EXPECT_EQ(wait_exit(child), 0);
  fq_close(q);
}

TEST(BadInput, MessageFunctionsRejectNonsense) {
  fq_msg *m = nullptr;
  EXPECT_EQ(fq_recv_msg(nullptr, &m, 0), FQ_EINVAL);
  EXPECT_EQ(fq_lease(nullptr, &m, 10, 0), FQ_EINVAL);
  EXPECT_EQ(fq_ack(nullptr), FQ_EINVAL);
  EXPECT_EQ(fq_retry(nullptr, "x", 0), FQ_EINVAL);
  EXPECT_EQ(fq_dead_letter(nullptr, "x"), FQ_EINVAL);
  EXPECT_EQ(fq_fail(nullptr, "x", 0, nullptr), FQ_EINVAL);
  EXPECT_EQ(fq_msg_free(nullptr), FQ_EINVAL);
  EXPECT_EQ(fq_msg_data(nullptr), nullptr);
  EXPECT_EQ(fq_msg_size(nullptr), 0u);
  EXPECT_STREQ(fq_msg_reason(nullptr), "");
  EXPECT_STREQ(fq_msg_origin(nullptr), "");
  EXPECT_EQ(fq_redrive(nullptr, nullptr, nullptr), FQ_EINVAL);
  EXPECT_EQ(fq_set_policy(nullptr, nullptr), FQ_EINVAL);
  EXPECT_EQ(fq_get_policy(nullptr, nullptr), FQ_EINVAL);
  fq_dead_log *log = nullptr;
  EXPECT_EQ(fq_dead_open(nullptr, &log), FQ_EINVAL);
  EXPECT_EQ(fq_dead_open("/nonexistent/q", &log), FQ_ENOENT);
  EXPECT_EQ(fq_dead_next(nullptr, &m), FQ_EINVAL);
  EXPECT_EQ(fq_dead_close(nullptr), FQ_EINVAL);
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(fq_lease(q, &m, -2, 0), FQ_EINVAL);
  EXPECT_EQ(fq_lease(q, nullptr, 10, 0), FQ_EINVAL);
  ASSERT_EQ(fq_send(q, "m", 1), 0);
  ASSERT_EQ(fq_recv_msg(q, &m, 0), 0);
  EXPECT_EQ(fq_retry(m, "x", -5), FQ_EINVAL);
  EXPECT_EQ(fq_fail(m, "x", 0x40, nullptr), FQ_EINVAL);
  fq_msg_free(m);
  fq_queue *wo = open_or_die(dir.file("q"), FQ_WRITE);
  EXPECT_EQ(fq_recv_msg(wo, &m, 0), FQ_EBADF);
  EXPECT_EQ(fq_lease(wo, &m, 10, 0), FQ_EBADF);
  fq_close(wo);
  fq_close(q);
}

}  // namespace
