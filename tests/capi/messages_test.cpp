// Guarantees 1 (whole messages), 4 (buffer too small), 10 (thread-safe
// handles) and 11 (a send never waits for a receiver; room and backpressure).
#include <fcntl.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "test_support.hpp"

using namespace fqtest;

namespace {

constexpr int kRW = FQ_READ | FQ_WRITE | FQ_CREATE;

TEST(Messages, EverySizeArrivesWholeAcrossProcesses) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, kRW);
  ASSERT_NE(q, nullptr);
  // Around the inline/shared-memory boundary and far past PIPE_BUF.
  const std::vector<size_t> sizes = {16,   17,    100,      4079,      4080, 4081,
                                     4096, 65536, 1u << 20, 16u << 20, 16,   100000};
  const pid_t sender = spawn([&] {
    fq_queue *w = nullptr;
    if (fq_open(path.c_str(), FQ_WRITE, &w) != 0) return 1;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const auto m = make_msg(1, uint32_t(i), sizes[i]);
      if (fq_send(w, m.data(), m.size()) != 0) return 2;
    }
    return fq_close(w);
  });
  std::vector<uint8_t> buf(16u << 20);
  for (size_t i = 0; i < sizes.size(); ++i) {
    size_t len = 0;
    ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 30000), 0) << "message " << i;
    uint32_t s, seq;
    ASSERT_TRUE(check_msg(buf.data(), len, s, seq)) << "message " << i << " corrupt";
    EXPECT_EQ(len, sizes[i]);
    EXPECT_EQ(seq, i);
  }
  EXPECT_EQ(wait_exit(sender), 0);
  fq_close(q);
}

// Where `p` lies in this process: the path of its mapping in /proc/self/maps.
std::string mapped_file(const void *p) {
  std::ifstream maps("/proc/self/maps");
  const auto a = reinterpret_cast<uintptr_t>(p);
  for (std::string line; std::getline(maps, line);) {
    unsigned long lo, hi;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) != 2 || a < lo || a >= hi) continue;
    const size_t slash = line.find('/');
    return slash == std::string::npos ? "(anonymous)" : line.substr(slash);
  }
  return "(unmapped)";
}

TEST(Messages, LargeMessagesAreReceivedInPlaceWithoutACopy) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, kRW);
  ASSERT_NE(q, nullptr);
  const pid_t sender = spawn([&] {
    fq_queue *w = nullptr;
    if (fq_open(path.c_str(), FQ_WRITE, &w) != 0) return 1;
    for (uint32_t i = 0; i < 3; ++i) {
      const auto m = make_msg(1, i, 8u << 20);
      if (fq_send(w, m.data(), m.size()) != 0) return 2;
    }
    return fq_close(w);
  });
  for (uint32_t i = 0; i < 3; ++i) {
    fq_msg *m = nullptr;
    ASSERT_EQ(fq_recv_msg(q, &m, 30000), 0);
    uint32_t s, seq;
    ASSERT_EQ(fq_msg_size(m), 8u << 20);
    ASSERT_TRUE(check_msg(static_cast<const uint8_t *>(fq_msg_data(m)), fq_msg_size(m), s, seq));
    EXPECT_EQ(seq, i);
    // The payload is the sender's file, mapped here, not a copy on the heap.
    EXPECT_EQ(mapped_file(fq_msg_data(m)).rfind("/dev/shm/fq-", 0), 0u)
        << mapped_file(fq_msg_data(m));
    ASSERT_EQ(fq_msg_free(m), 0);
  }
  EXPECT_EQ(wait_exit(sender), 0);
  // Freed messages gave their files to the pool (at most 4, ShmPayloads::kPool).
  EXPECT_GE(count_payload_files(path), 1u);
  EXPECT_LE(count_payload_files(path), 4u);
  fq_close(q);
  EXPECT_EQ(count_payload_files(path), 0u);  // the last holder emptied it
}

// A message mapped in place and then inherited by a fork child: whichever
// process frees its copy first, the other's bytes stay the sender's, however
// many large messages pass afterwards (their files come from the pool).
TEST(Messages, AMappedMessageStaysIntactAcrossAFork) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, kRW);
  ASSERT_NE(q, nullptr);
  constexpr size_t kSize = 1 << 20;
  auto pass_large_messages = [&](uint32_t tag) {
    std::vector<uint8_t> buf(kSize);
    for (uint32_t i = 0; i < 6; ++i) {
      const auto m = make_msg(tag, i, kSize);
      size_t len;
      if (fq_send(q, m.data(), m.size()) != 0) return false;
      if (fq_recv_timeout(q, buf.data(), buf.size(), &len, 1000) != 0) return false;
    }
    return true;
  };
  for (bool child_frees_first : {true, false}) {
    const auto original = make_msg(7, 7, kSize);
    ASSERT_EQ(fq_send(q, original.data(), original.size()), 0);
    fq_msg *m = nullptr;
    ASSERT_EQ(fq_recv_msg(q, &m, 1000), 0);
    const auto *data = static_cast<const uint8_t *>(fq_msg_data(m));
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    const pid_t child = spawn([&] {
      char c;
      if (child_frees_first) {
        fq_msg_free(m);
        return 0;
      }
      if (::read(go[0], &c, 1) != 1) return 1;  // the parent has freed and moved on
      return std::memcmp(data, original.data(), kSize) == 0 ? 0 : 2;
    });
    if (child_frees_first) {
      ASSERT_EQ(wait_exit(child), 0);
      ASSERT_TRUE(pass_large_messages(1));
      EXPECT_EQ(std::memcmp(data, original.data(), kSize), 0) << "the child's free reached us";
      fq_msg_free(m);
    } else {
      fq_msg_free(m);
      ASSERT_TRUE(pass_large_messages(2));
      ASSERT_EQ(::write(go[1], "g", 1), 1);
      EXPECT_EQ(wait_exit(child), 0) << "the parent's free reached the child";
    }
    ::close(go[0]);
    ::close(go[1]);
  }
  fq_close(q);
}

// Mapped messages hold no descriptor, and a receive that cannot open a
// payload file keeps the message for the next try.
TEST(Messages, MappedMessagesHoldNoDescriptorAndRunningOutLosesNothing) {
  TempDir dir;
  const std::string path = dir.file("q");
  const pid_t child = spawn([&] {
    fq_queue *q = nullptr;
    if (fq_open(path.c_str(), kRW, &q) != 0) return 1;
    rlimit low;
    if (::getrlimit(RLIMIT_NOFILE, &low) != 0) return 2;
    low.rlim_cur = 40;  // the soft limit only: valgrind refuses to change the hard one
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return 2;
    std::vector<fq_msg *> kept;
    for (uint32_t i = 0; i < 60; ++i) {
      const auto m = make_msg(1, i, 300000);
      if (fq_send(q, m.data(), m.size()) != 0) return 3;
      fq_msg *got = nullptr;
      if (fq_recv_msg(q, &got, 1000) != 0) return 4;
      kept.push_back(got);  // 60 mapped messages kept, 40 descriptors allowed
    }
    // Every descriptor taken: the next receive fails and keeps the message.
    const auto m = make_msg(1, 60, 300000);
    if (fq_send(q, m.data(), m.size()) != 0) return 5;
    std::vector<int> hog;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) hog.push_back(fd);
    fq_msg *got = nullptr;
    if (fq_recv_msg(q, &got, 0) == 0) return 6;
    for (int fd : hog) ::close(fd);
    if (fq_recv_msg(q, &got, 1000) != 0) return 7;
    uint32_t s, seq;
    if (!check_msg(static_cast<const uint8_t *>(fq_msg_data(got)), fq_msg_size(got), s, seq) ||
        seq != 60) {
      return 8;
    }
    fq_msg_free(got);
    for (fq_msg *k : kept) fq_msg_free(k);
    return fq_close(q);
  });
  EXPECT_EQ(wait_exit(child), 0);
}

TEST(Messages, EmptyMessageIsAMessage) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW);
  ASSERT_EQ(fq_send(q, nullptr, 0), 0);
  ASSERT_EQ(fq_send(q, "x", 1), 0);
  char buf[4];
  size_t len = 99;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 1000), 0);
  EXPECT_EQ(len, 0u);
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 1000), 0);
  EXPECT_EQ(len, 1u);
  fq_close(q);
}

TEST(Messages, ConfigurableToOneGiB) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.max_msg = (1ull << 30) + 1;
  fq_queue *q = open_or_die(dir.file("q"), kRW, &o);
  ASSERT_NE(q, nullptr);
  std::vector<uint8_t> big(size_t(o.max_msg));
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = uint8_t(i >> 12);
  big.back() = 0xAB;
  ASSERT_EQ(fq_send(q, big.data(), big.size()), 0);
  const auto expect = big;
  std::fill(big.begin(), big.end(), 0);
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, big.data(), big.size(), &len, 60000), 0);
  EXPECT_EQ(len, expect.size());
  EXPECT_TRUE(big == expect);
  const std::vector<uint8_t> over(size_t(o.max_msg) + 1);
  EXPECT_EQ(fq_send(q, over.data(), over.size()), FQ_EMSGSIZE);
  fq_close(q);
}

TEST(Messages, OverTheLimitFailsAtOnce) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.max_msg = 10000;
  fq_queue *q = open_or_die(dir.file("q"), kRW, &o);
  const std::vector<uint8_t> m(10001);
  EXPECT_EQ(fq_send(q, m.data(), m.size()), FQ_EMSGSIZE);
  EXPECT_EQ(fq_send(q, m.data(), 10000), 0);
  fq_close(q);
}

TEST(Messages, GatherSendIsOneMessage) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW);
  for (size_t payload : {size_t(10), size_t(200000)}) {
    const std::string head = "header:";
    const std::vector<uint8_t> body(payload, 0x5A);
    const iovec iov[3] = {{const_cast<char *>(head.data()), head.size()},
                          {nullptr, 0},
                          {const_cast<uint8_t *>(body.data()), body.size()}};
    ASSERT_EQ(fq_sendv(q, iov, 3, -1), 0);
    std::vector<uint8_t> buf(head.size() + payload);
    size_t len = 0;
    ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 1000), 0);
    ASSERT_EQ(len, buf.size());
    EXPECT_EQ(std::memcmp(buf.data(), head.data(), head.size()), 0);
    EXPECT_EQ(buf[head.size()], 0x5A);
    EXPECT_EQ(buf.back(), 0x5A);
  }
  fq_close(q);
}

TEST(Messages, BufferTooSmallKeepsTheMessage) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW);
  for (size_t size : {size_t(100), size_t(300000)}) {
    const auto m = make_msg(3, 7, size);
    ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
    std::vector<uint8_t> buf(size);
    size_t len = 0;
    ASSERT_EQ(fq_recv_timeout(q, buf.data(), size - 1, &len, 1000), FQ_ETOOSMALL);
    EXPECT_EQ(len, size);
    size_t next = 0;
    ASSERT_EQ(fq_next_size(q, &next, 0), 0);
    EXPECT_EQ(next, size);
    ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 1000), 0);
    uint32_t s, seq;
    EXPECT_TRUE(check_msg(buf.data(), len, s, seq));
    EXPECT_EQ(seq, 7u);
  }
  fq_close(q);
}

TEST(Messages, NextSizeWaitsAndTimesOut) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW);
  size_t len = 0;
  EXPECT_EQ(fq_next_size(q, &len, 0), FQ_EAGAIN);
  EXPECT_EQ(fq_next_size(q, &len, 50), FQ_ETIMEDOUT);
  fq_close(q);
}

// Guarantee 10: one handle, many threads, every message exactly once.
TEST(Messages, OneHandleManyThreads) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW);
  constexpr int kThreads = 4, kPer = 2000;
  std::vector<std::vector<int>> seen(kThreads, std::vector<int>(kPer, 0));
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        const auto m = make_msg(uint32_t(t), uint32_t(i), (i % 50 == 0) ? 20000 : 64);
        if (fq_send(q, m.data(), m.size()) != 0) ++bad;
      }
    });
  }
  std::mutex mu;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      std::vector<uint8_t> buf(20000);
      for (int i = 0; i < kPer; ++i) {
        size_t len = 0;
        if (fq_recv_timeout(q, buf.data(), buf.size(), &len, 30000) != 0) {
          ++bad;
          return;
        }
        uint32_t s, seq;
        if (!check_msg(buf.data(), len, s, seq) || s >= kThreads || seq >= kPer) {
          ++bad;
          continue;
        }
        std::lock_guard<std::mutex> g(mu);
        ++seen[s][seq];
      }
    });
  }
  for (auto &t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  for (int s = 0; s < kThreads; ++s) {
    for (int i = 0; i < kPer; ++i) ASSERT_EQ(seen[s][i], 1) << "sender " << s << " seq " << i;
  }
  fq_close(q);
}

// Guarantee 11: a 6 MB message is accepted with no receiver anywhere, and the
// sender can take it back itself.
TEST(Room, SendNeverWaitsForAReceiver) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *w = open_or_die(path, FQ_WRITE | FQ_CREATE);
  const auto m = make_msg(1, 1, 6u << 20);
  ASSERT_EQ(fq_send_timeout(w, m.data(), m.size(), 0), 0);
  ASSERT_EQ(fq_send_timeout(w, m.data(), 100, 0), 0);
  fq_queue *r = open_or_die(path, FQ_READ);
  std::vector<uint8_t> buf(m.size());
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(r, buf.data(), buf.size(), &len, 1000), 0);
  EXPECT_TRUE(buf == m);
  fq_close(r);
  fq_close(w);
}

TEST(Room, FullQueueAppliesBackpressure) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.room_msgs = 2;
  fq_queue *q = open_or_die(dir.file("q"), kRW, &o);
  ASSERT_EQ(fq_send(q, "a", 1), 0);
  ASSERT_EQ(fq_send(q, "b", 1), 0);
  EXPECT_EQ(fq_send_timeout(q, "c", 1, 0), FQ_EAGAIN);
  EXPECT_EQ(fq_send_timeout(q, "c", 1, 50), FQ_ETIMEDOUT);
  fq_stats st = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &st), 0);
  EXPECT_EQ(st.queued_msgs, 2u);
  EXPECT_EQ(st.room_msgs, 2u);
  // A receiver in another process frees room; the blocked sender goes on.
  const std::string path = dir.file("q");
  const pid_t receiver = spawn([&] {
    fq_close(q);  // the parent's, inherited: a child may close it (and valgrind sees it freed)
    fq_queue *r = nullptr;
    if (fq_open(path.c_str(), FQ_READ, &r) != 0) return 1;
    char c;
    size_t len;
    for (int i = 0; i < 3; ++i) {
      if (fq_recv_timeout(r, &c, 1, &len, 10000) != 0) return 2;
    }
    return fq_close(r);
  });
  EXPECT_EQ(fq_send_timeout(q, "c", 1, 10000), 0);
  EXPECT_EQ(wait_exit(receiver), 0);
  fq_close(q);
}

TEST(Room, ByteLimitAndNonblockFlag) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.max_msg = 100000;
  o.room_bytes = 150000;
  fq_queue *q = open_or_die(dir.file("q"), kRW | FQ_NONBLOCK, &o);
  const std::vector<uint8_t> m(100000);
  ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
  EXPECT_EQ(fq_send(q, m.data(), m.size()), FQ_EAGAIN);
  std::vector<uint8_t> buf(m.size());
  size_t len;
  ASSERT_EQ(fq_recv(q, buf.data(), buf.size(), &len), 0);
  EXPECT_EQ(fq_recv(q, buf.data(), buf.size(), &len), FQ_EAGAIN);
  ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
  fq_close(q);
}

TEST(Room, PipeIsEnlargedToTheSystemMaximum) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW);
  fq_stats st = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &st), 0);
  FILE *f = std::fopen("/proc/sys/fs/pipe-max-size", "r");
  ASSERT_NE(f, nullptr);
  unsigned long long max = 0;
  ASSERT_EQ(std::fscanf(f, "%llu", &max), 1);
  std::fclose(f);
  EXPECT_EQ(st.pipe_size, max);
  fq_close(q);

  fq_opts o = FQ_OPTS_INIT;
  o.pipe_size = 65536;
  q = open_or_die(dir.file("small"), kRW, &o);
  ASSERT_EQ(fq_get_stats(q, &st), 0);
  EXPECT_EQ(st.pipe_size, 65536u);
  fq_close(q);
}

}  // namespace
