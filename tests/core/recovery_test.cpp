// A receiver that dies holding the receive lock, or inside read(), must not
// wedge the queue or make it deliver a fragment. These tests play the dying
// receiver with the real state file, so they see the engine's insides.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "fifo_transport.hpp"
#include "queue.hpp"

namespace fq {
namespace {

struct Dir {
  std::string path;
  Dir() {
    char t[] = "/tmp/fq-core-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Dir() {
    unlink_queue((path + "/q").c_str());
    std::filesystem::remove_all(path);
  }
};

std::unique_ptr<Transport> open_q(const std::string &path) {
  std::unique_ptr<Transport> t;
  EXPECT_EQ(open_transport(path.c_str(), kRead | kWrite | kCreate, OpenOptions{}, t), Errc::ok);
  return t;
}

Errc send_str(Transport &t, const std::string &s) {
  iovec v{const_cast<char *>(s.data()), s.size()};
  return t.send(&v, 1, Deadline::after_ms(1000));
}

std::string recv_str(Transport &t, int timeout_ms = 2000) {
  char buf[256];
  size_t len = 0;
  const Errc e = t.recv(buf, sizeof buf, &len, false, Deadline::after_ms(timeout_ms));
  return e == Errc::ok ? std::string(buf, len) : "<" + std::string(errc_text(int(e))) + ">";
}

// Runs `die` in a child that maps the queue's state and exits without cleanup.
void in_dying_child(const std::string &path, void (*die)(StateHeader *, int fifo)) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int sfd = ::open(state_path(path).c_str(), O_RDWR);
    const int fifo = ::open(path.c_str(), O_RDWR | O_NONBLOCK);
    StateMap m;
    if (sfd < 0 || fifo < 0 || m.attach(sfd) != Errc::ok) ::_exit(1);
    die(m.hdr(), fifo);
    ::_exit(0);  // as abrupt as SIGKILL for the robust mutex: the kernel releases it
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(Recovery, LockHolderDiesOutsideRead) {
  Dir d;
  const std::string path = d.path + "/q";
  auto q = open_q(path);
  ASSERT_EQ(send_str(*q, "one"), Errc::ok);
  ASSERT_EQ(send_str(*q, "two"), Errc::ok);
  in_dying_child(path, [](StateHeader *h, int) { pthread_mutex_lock(&h->rx_mutex); });
  EXPECT_EQ(recv_str(*q), "one");
  EXPECT_EQ(recv_str(*q), "two");
  Stats s;
  q->stats(s);
  EXPECT_EQ(s.lost_reads, 0u);
}

TEST(Recovery, LockHolderDiesInsideRead) {
  Dir d;
  const std::string path = d.path + "/q";
  auto q = open_q(path);
  // A frame whose body is text with newlines: its torn tail looks like lines.
  ASSERT_EQ(send_str(*q, "head\nfake line\nanother fake\n"), Errc::ok);
  ASSERT_EQ(send_str(*q, "after"), Errc::ok);
  in_dying_child(path, [](StateHeader *h, int fifo) {
    pthread_mutex_lock(&h->rx_mutex);
    h->pending_read.store(cursor_tail(h->cursor.load()) + 1);
    char part[20];  // header and part of the body, then "killed"
    if (::read(fifo, part, sizeof part) != sizeof part) ::_exit(2);
  });
  EXPECT_EQ(recv_str(*q), "after");
  Stats s;
  q->stats(s);
  EXPECT_EQ(s.lost_reads, 1u);
  EXPECT_GT(s.garbage_bytes, 0u);
}

TEST(Recovery, LeasedReaderDiesInsideReadLosesNothing) {
  Dir d;
  const std::string path = d.path + "/q";
  auto q = open_q(path);
  ASSERT_EQ(send_str(*q, "first"), Errc::ok);
  ASSERT_EQ(send_str(*q, "second"), Errc::ok);
  // A leased receive records how much its read will bring before reading:
  // dying right after the read, it leaves the bytes in staging, uncounted.
  in_dying_child(path, [](StateHeader *h, int fifo) {
    pthread_mutex_lock(&h->rx_mutex);
    const uint8_t *staging = reinterpret_cast<uint8_t *>(h) + kStagingOffset;
    const uint64_t tail = cursor_tail(h->cursor.load());
    int avail = 0;
    if (::ioctl(fifo, FIONREAD, &avail) != 0 || avail <= 0) ::_exit(2);
    h->pending_len.store(uint64_t(avail));
    h->pending_read.store(tail + 1);
    if (::read(fifo, const_cast<uint8_t *>(staging) + tail, size_t(avail)) != avail) ::_exit(3);
  });
  EXPECT_EQ(recv_str(*q), "first");
  EXPECT_EQ(recv_str(*q), "second");
  Stats s;
  q->stats(s);
  EXPECT_EQ(s.lost_reads, 0u);
  EXPECT_EQ(s.garbage_bytes, 0u);
}

TEST(Recovery, CompactionCutShortDiscardsStaging) {
  Dir d;
  const std::string path = d.path + "/q";
  auto q = open_q(path);
  ASSERT_EQ(send_str(*q, "lost"), Errc::ok);
  ASSERT_EQ(recv_str(*q, 0), "lost");
  in_dying_child(path, [](StateHeader *h, int) {
    pthread_mutex_lock(&h->rx_mutex);
    h->moving.store(1);
  });
  ASSERT_EQ(send_str(*q, "fresh"), Errc::ok);
  EXPECT_EQ(recv_str(*q), "fresh");
}

}  // namespace
}  // namespace fq
