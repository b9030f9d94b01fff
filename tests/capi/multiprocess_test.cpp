// Guarantees 2 (many senders and receivers, exactly once, in order per
// sender) and 8 (a queue outlives its users), and fork safety.
#include <fcntl.h>
#include <sys/file.h>

#include <fstream>
#include <map>

#include "test_support.hpp"

using namespace fqtest;

namespace {

struct Seen {
  uint32_t sender, seq;
};

// A receiver process: takes messages until an empty one, writes what it saw
// to `out` as (sender, seq) pairs. Exit 0 if every message was intact.
int receive_until_stop(const std::string &path, const std::string &out, size_t cap) {
  fq_queue *q = nullptr;
  if (fq_open(path.c_str(), FQ_READ, &q) != 0) return 1;
  std::vector<uint8_t> buf(cap);
  std::vector<Seen> seen;
  for (;;) {
    size_t len = 0;
    if (fq_recv_timeout(q, buf.data(), buf.size(), &len, 60000) != 0) return 2;
    if (len == 0) break;
    Seen s;
    if (!check_msg(buf.data(), len, s.sender, s.seq)) return 3;
    seen.push_back(s);
  }
  std::ofstream f(out, std::ios::binary);
  f.write(reinterpret_cast<const char *>(seen.data()), std::streamsize(seen.size() * sizeof(Seen)));
  fq_close(q);
  return f ? 0 : 4;
}

size_t size_for(uint32_t sender, uint32_t seq) {
  static const size_t kSizes[] = {16, 64, 1000, 4080, 4081, 30000, 200000};
  return kSizes[(sender * 3 + seq * 5) % 7];
}

void run_many_to_many(int senders, int receivers, uint32_t per_sender) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *ctl = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(ctl, nullptr);
  std::vector<pid_t> rx, tx;
  for (int r = 0; r < receivers; ++r) {
    const std::string out = dir.file("seen" + std::to_string(r));
    rx.push_back(spawn([=] { return receive_until_stop(path, out, 200000); }));
  }
  for (int s = 0; s < senders; ++s) {
    tx.push_back(spawn([=] {
      fq_queue *q = nullptr;
      if (fq_open(path.c_str(), FQ_WRITE, &q) != 0) return 1;
      for (uint32_t i = 0; i < per_sender; ++i) {
        const auto m = make_msg(uint32_t(s), i, size_for(uint32_t(s), i));
        if (fq_send(q, m.data(), m.size()) != 0) return 2;
      }
      return fq_close(q);
    }));
  }
  for (pid_t p : tx) ASSERT_EQ(wait_exit(p), 0) << "sender failed";
  // Everything sent is ahead of these: one stop message per receiver.
  for (int r = 0; r < receivers; ++r) ASSERT_EQ(fq_send(ctl, nullptr, 0), 0);
  for (pid_t p : rx) ASSERT_EQ(wait_exit(p), 0) << "receiver failed or saw a corrupt message";

  std::map<uint32_t, std::vector<int>> count;
  for (int s = 0; s < senders; ++s) count[uint32_t(s)].assign(per_sender, 0);
  size_t total = 0;
  for (int r = 0; r < receivers; ++r) {
    std::ifstream f(dir.file("seen" + std::to_string(r)), std::ios::binary);
    std::map<uint32_t, int64_t> last;
    Seen s;
    while (f.read(reinterpret_cast<char *>(&s), sizeof s)) {
      ASSERT_LT(s.sender, uint32_t(senders));
      ASSERT_LT(s.seq, per_sender);
      auto it = last.find(s.sender);
      if (it != last.end()) {
        ASSERT_GT(int64_t(s.seq), it->second) << "sender " << s.sender << " out of order";
      }
      last[s.sender] = s.seq;
      ++count[s.sender][s.seq];
      ++total;
    }
  }
  EXPECT_EQ(total, size_t(senders) * per_sender);
  for (auto &[sender, seqs] : count) {
    for (uint32_t i = 0; i < per_sender; ++i) {
      ASSERT_EQ(seqs[i], 1) << "sender " << sender << " seq " << i << " delivered " << seqs[i];
    }
  }
  fq_close(ctl);
}

TEST(ManyProcesses, OneToOneKeepsOrder) { run_many_to_many(1, 1, 3000); }
TEST(ManyProcesses, FourSendersFourReceiversExactlyOnce) { run_many_to_many(4, 4, 1500); }

// Large messages cross the pipe in pieces if written whole; frames never do.
TEST(ManyProcesses, LargeMessagesNeverInterleave) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  std::vector<pid_t> tx;
  for (int s = 0; s < 3; ++s) {
    tx.push_back(spawn([=] {
      fq_queue *w = nullptr;
      if (fq_open(path.c_str(), FQ_WRITE, &w) != 0) return 1;
      for (uint32_t i = 0; i < 20; ++i) {
        const auto m = make_msg(uint32_t(s), i, 3u << 20);
        if (fq_send(w, m.data(), m.size()) != 0) return 2;
      }
      return fq_close(w);
    }));
  }
  std::vector<uint8_t> buf(3u << 20);
  std::map<uint32_t, uint32_t> next;
  for (int i = 0; i < 60; ++i) {
    size_t len = 0;
    ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 30000), 0);
    uint32_t s, seq;
    ASSERT_TRUE(check_msg(buf.data(), len, s, seq)) << "torn or interleaved message";
    EXPECT_EQ(seq, next[s]++);
  }
  for (pid_t p : tx) EXPECT_EQ(wait_exit(p), 0);
  fq_close(q);
}

// Guarantee 8: what is queued when the last user closes waits for the next.
TEST(Lifetime, QueueOutlivesItsUsers) {
  TempDir dir;
  const std::string path = dir.file("q");
  const pid_t sender = spawn([&] {
    fq_queue *q = nullptr;
    if (fq_open(path.c_str(), FQ_WRITE | FQ_CREATE, &q) != 0) return 1;
    for (uint32_t i = 0; i < 500; ++i) {
      const auto m = make_msg(0, i, i % 100 == 0 ? 100000 : 200);
      if (fq_send(q, m.data(), m.size()) != 0) return 2;
    }
    return fq_close(q);
  });
  ASSERT_EQ(wait_exit(sender), 0);
  // No process holds the FIFO now: the pipe is gone, the messages are not.
  fq_queue *q = open_or_die(path, FQ_READ);
  std::vector<uint8_t> buf(100000);
  for (uint32_t i = 0; i < 500; ++i) {
    size_t len = 0;
    ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 0), 0) << "message " << i;
    uint32_t s, seq;
    ASSERT_TRUE(check_msg(buf.data(), len, s, seq));
    ASSERT_EQ(seq, i);
  }
  size_t len;
  EXPECT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 0), FQ_EAGAIN);
  fq_close(q);
}

TEST(Lifetime, CloseDoesNotWaitAndReopenSeesOrder) {
  TempDir dir;
  const std::string path = dir.file("q");
  for (int round = 0; round < 3; ++round) {
    fq_queue *w = open_or_die(path, FQ_WRITE | FQ_CREATE);
    for (int i = 0; i < 3; ++i) {
      const std::string m = std::to_string(round * 3 + i);
      ASSERT_EQ(fq_send(w, m.data(), m.size()), 0);
    }
    fq_close(w);
  }
  fq_queue *r = open_or_die(path, FQ_READ);
  for (int i = 0; i < 9; ++i) {
    char buf[8];
    size_t len = 0;
    ASSERT_EQ(fq_recv_timeout(r, buf, sizeof buf, &len, 0), 0);
    EXPECT_EQ(std::string(buf, len), std::to_string(i));
  }
  fq_close(r);
}

// A fork child uses and closes an inherited handle; the parent, and a later
// opener, are unaffected.
TEST(Fork, ChildMayUseAndCloseAnInheritedHandle) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_EQ(fq_send(q, "before", 6), 0);
  const pid_t child = spawn([&] {
    char buf[16];
    size_t len = 0;
    if (fq_recv_timeout(q, buf, sizeof buf, &len, 5000) != 0) return 1;
    if (std::string(buf, len) != "before") return 2;
    if (fq_send(q, "from child", 10) != 0) return 3;
    return fq_close(q);
  });
  ASSERT_EQ(wait_exit(child), 0);
  char buf[16];
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 5000), 0);
  EXPECT_EQ(std::string(buf, len), "from child");
  // The state file's lock is still shared, not stuck exclusive by the child.
  if (!over_broker()) {
    const int fd = ::open((path + ".fq-state").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::flock(fd, LOCK_SH | LOCK_NB), 0);
    EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0) << "the parent's hold on the queue was lost";
    ::close(fd);
  }
  ASSERT_EQ(fq_send(q, "after", 5), 0);
  fq_close(q);
  fq_queue *r = open_or_die(path, FQ_READ);
  ASSERT_EQ(fq_recv_timeout(r, buf, sizeof buf, &len, 0), 0);
  EXPECT_EQ(std::string(buf, len), "after");
  fq_close(r);
}

}  // namespace
