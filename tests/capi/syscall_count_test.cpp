// Guarantee 2's cost clause: the uncontended path makes no extra system
// calls. This binary defines the libc wrappers libfq calls (read, writev,
// ppoll, open, unlink), so libfq's calls land here, are counted, and go on
// to the kernel. Built without sanitizers, whose interceptors own these names.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>

#include "test_support.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> n_read{0}, n_writev{0}, n_ppoll{0}, n_open{0}, n_unlink{0}, n_create{0},
    n_rename{0};

void count(std::atomic<long> &n) {
  if (counting) ++n;
}

void reset() { n_read = n_writev = n_ppoll = n_open = n_unlink = n_create = n_rename = 0; }
}  // namespace

// Default visibility: the project builds with hidden symbols, and a hidden
// definition would not interpose libc's for libfq.
#define FQ_INTERPOSE __attribute__((visibility("default")))

extern "C" {
FQ_INTERPOSE ssize_t read(int fd, void *buf, size_t n) {
  count(n_read);
  return ::syscall(SYS_read, fd, buf, n);
}
FQ_INTERPOSE ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  count(n_writev);
  return ::syscall(SYS_writev, fd, iov, cnt);
}
FQ_INTERPOSE int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                       const sigset_t *mask) {
  count(n_ppoll);
  return int(::syscall(SYS_ppoll, fds, n, ts, mask, _NSIG / 8));
}
FQ_INTERPOSE int open(const char *path, int flags, ...) {
  count(n_open);
  if (flags & O_CREAT) count(n_create);
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = mode_t(va_arg(ap, int));
    va_end(ap);
  }
  return int(::syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}
FQ_INTERPOSE int unlink(const char *path) {
  count(n_unlink);
  return int(::syscall(SYS_unlinkat, AT_FDCWD, path, 0));
}
FQ_INTERPOSE int renameat2(int from_dir, const char *from, int to_dir, const char *to,
                           unsigned flags) {
  count(n_rename);
  return int(::syscall(SYS_renameat2, from_dir, from, to_dir, to, flags));
}
}

using namespace fqtest;

namespace {

TEST(SyscallCount, SmallMessagesCostOneWritevEachAndReadsInBursts) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  char buf[64] = {};
  reset();
  counting = true;
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(fq_send(q, buf, sizeof buf), 0);
  counting = false;
  EXPECT_EQ(n_writev.load(), 1000);
  EXPECT_EQ(n_read + n_ppoll + n_open + n_unlink, 0);

  reset();
  counting = true;
  for (int i = 0; i < 1000; ++i) {
    size_t len;
    ASSERT_EQ(fq_recv(q, buf, sizeof buf, &len), 0);
  }
  counting = false;
  EXPECT_LE(n_read.load(), 2) << "1000 queued messages should take a read or two, not one each";
  EXPECT_GE(n_read.load(), 1) << "the counting wrappers were not used: the test proves nothing";
  EXPECT_EQ(n_writev + n_ppoll + n_open + n_unlink, 0);
  fq_close(q);
}

TEST(SyscallCount, MediumMessagesUseSlotsNotFiles) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  std::vector<uint8_t> m(8192, 7);
  reset();
  counting = true;
  for (int i = 0; i < 100; ++i) ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
  for (int i = 0; i < 100; ++i) {
    size_t len;
    ASSERT_EQ(fq_recv(q, m.data(), m.size(), &len), 0);
  }
  counting = false;
  EXPECT_EQ(n_writev.load(), 100);  // the reference frames
  EXPECT_LE(n_read.load(), 2);
  EXPECT_EQ(n_open + n_unlink, 0) << "medium messages went through payload files";
  fq_close(q);
}

TEST(SyscallCount, BatchesOfSmallMessagesShareEachWriteAndRead) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  std::vector<std::vector<uint8_t>> msgs;
  std::vector<iovec> v;
  for (uint32_t i = 0; i < 1000; ++i) msgs.push_back(make_msg(1, i, 64));
  for (auto &m : msgs) v.push_back(iovec{m.data(), m.size()});
  reset();
  counting = true;
  size_t sent = 0;
  ASSERT_EQ(fq_send_many(q, v.data(), v.size(), &sent, 0), 0);
  std::vector<uint8_t> buf(1 << 20);
  std::vector<size_t> lens(1000);
  size_t got = 0;
  while (got < 1000) {
    size_t count = 0;
    ASSERT_EQ(fq_recv_many(q, buf.data(), buf.size(), lens.data(), lens.size(), &count, 0), 0);
    got += count;
  }
  counting = false;
  // 80-byte frames, 51 to a PIPE_BUF write: 20 writes; the reads take what
  // the pipe holds each time.
  EXPECT_EQ(n_writev.load(), 20);
  EXPECT_LE(n_read.load(), 3);
  fq_close(q);
}

TEST(SyscallCount, LargeMessagesUseOneFileEachAndReuseItsPages) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  std::vector<uint8_t> m(1 << 20, 7);
  reset();
  counting = true;
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
    size_t len;
    ASSERT_EQ(fq_recv(q, m.data(), m.size(), &len), 0);
  }
  counting = false;
  // One file made, after looking in the 4 empty pool places (a rename each);
  // then each message takes it from the pool (a rename), the receiver claims
  // it (a rename) and gives it back (a rename).
  EXPECT_EQ(n_create.load(), 1);
  EXPECT_EQ(n_open.load(), 20);  // opened by the sender, then by the receiver
  EXPECT_EQ(n_rename.load(), 4 + 9 + 10 + 10);
  EXPECT_EQ(n_unlink.load(), 0);
  fq_close(q);
}

TEST(SyscallCount, ThePoolOfLargeFilesIsBounded) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  std::vector<uint8_t> m(1 << 20, 7);
  reset();
  counting = true;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(fq_send(q, m.data(), m.size()), 0);
  for (int i = 0; i < 10; ++i) {
    size_t len;
    ASSERT_EQ(fq_recv(q, m.data(), m.size(), &len), 0);
  }
  counting = false;
  EXPECT_EQ(n_create.load(), 10);
  EXPECT_EQ(n_unlink.load(), 10 - 4);  // the pool keeps 4 (ShmPayloads::kPool)
  EXPECT_EQ(count_payload_files(dir.file("q")), 4u);
  fq_close(q);  // the last holder empties the pool
  EXPECT_EQ(count_payload_files(dir.file("q")), 0u);
}

}  // namespace
