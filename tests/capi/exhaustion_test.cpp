// Running out: a full pipe with nobody reading, no file descriptors left, no
// room to write a file (RLIMIT_FSIZE stands in for a full disk and a full
// /dev/shm: tmpfs and ext4 both honour it). Each ends in a clear error code,
// with nothing half-sent, no room or file leaked, and the queue still working.
#include <sys/resource.h>

#include "test_support.hpp"

using namespace fqtest;

namespace {

TEST(Exhaustion, PipeFullWithNobodyReadingTimesOutCleanly) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_opts o = FQ_OPTS_INIT;
  o.pipe_size = 64 * 1024;  // fills after 16 messages of 4 KiB
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE, &o);
  ASSERT_NE(q, nullptr);
  const std::vector<uint8_t> m(4000, 'p');
  uint32_t sent = 0;
  int rc;
  while ((rc = fq_send_timeout(q, m.data(), m.size(), 50)) == 0) ++sent;
  EXPECT_EQ(rc, FQ_ETIMEDOUT);
  EXPECT_GT(sent, 10u);
  fq_stats s = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &s), 0);
  EXPECT_EQ(s.queued_msgs, sent);  // the timed-out send gave its room back
  std::vector<uint8_t> buf(8192);
  size_t len;
  for (uint32_t i = 0; i < sent; ++i) {
    ASSERT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 0), 0);
    ASSERT_EQ(len, m.size());
    ASSERT_EQ(std::memcmp(buf.data(), m.data(), len), 0);
  }
  EXPECT_EQ(fq_recv_timeout(q, buf.data(), buf.size(), &len, 0), FQ_EAGAIN);  // nothing torn
  fq_close(q);
}

// In a child holding `mine`: uses up every descriptor but two, so fq_open
// gets the FIFO and the bell, not the state file. (Not zero: UBSan's vptr
// checks need a pipe. A payload file that cannot be made is
// NoRoomForAPayloadFile below.) 0 if fq said so and cleaned up after itself.
int run_out_of_descriptors(const std::string &path, fq_queue *mine) {
  rlimit lim;
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 2;
  lim.rlim_cur = 64;  // the soft limit only: valgrind keeps the hard one for itself
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return 2;
  int last = -1;
  for (int fd; (fd = ::dup(0)) >= 0;) last = fd;
  ::close(last);
  ::close(last - 1);
  fq_queue *more = nullptr;
  const int open_rc = fq_open(path.c_str(), FQ_READ, &more);
  if (open_rc != FQ_ESYS || errno != EMFILE || more != nullptr) return 3;
  // The failed open closed what it had opened: both descriptors are free again.
  const int a = ::dup(0), b = ::dup(0);
  if (a < 0 || b < 0 || ::dup(0) >= 0) return 4;
  ::close(a);
  ::close(b);
  // Small messages need no descriptor: the handle still works.
  size_t len = 0;
  char buf[8];
  if (fq_send(mine, "ok", 2) != 0 || fq_recv_timeout(mine, buf, sizeof buf, &len, 0) != 0) {
    return 5;
  }
  return len == 2 ? 0 : 6;
}

TEST(Exhaustion, NoFileDescriptorsLeft) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  const pid_t child = spawn([&] {
    fq_queue *mine = nullptr;
    if (fq_open(path.c_str(), FQ_READ | FQ_WRITE, &mine) != 0) return 1;
    const int rc = run_out_of_descriptors(path, mine);
    fq_close(mine);
    return rc;
  });
  EXPECT_EQ(wait_exit(child), 0);
  EXPECT_EQ(count_payload_files(path), 0u);
  fq_close(q);
}

// Runs `body` in a child whose files may not grow past `bytes`.
int with_file_size_limit(rlim_t bytes, const std::function<int()> &body) {
  return wait_exit(spawn([&] {
    ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead
    const rlimit lim{bytes, bytes};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) return 90;
    return body();
  }));
}

TEST(Exhaustion, NoRoomForAPayloadFile) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(with_file_size_limit(100000,
                                 [&] {
                                   fq_queue *mine = nullptr;
                                   if (fq_open(path.c_str(), FQ_WRITE, &mine) != 0) return 1;
                                   const std::vector<uint8_t> big(1 << 20, 'b');
                                   const int rc = fq_send(mine, big.data(), big.size());
                                   const int small = fq_send(mine, "small", 5);
                                   fq_close(mine);
                                   return rc == FQ_ENOSPC ? small : 10 - rc;
                                 }),
            0);
  fq_stats s = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &s), 0);
  EXPECT_EQ(s.queued_msgs, 1u);              // the small one; the big one kept no room
  EXPECT_EQ(count_payload_files(path), 0u);  // nor a file
  char buf[16];
  size_t len;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), 0);
  EXPECT_EQ(std::string(buf, len), "small");
  fq_close(q);
}

TEST(Exhaustion, NoRoomForTheDeadLogKeepsTheMessage) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "precious", 8), 0);
  EXPECT_EQ(with_file_size_limit(10,
                                 [&] {
                                   fq_queue *mine = nullptr;
                                   fq_msg *m = nullptr;
                                   if (fq_open(path.c_str(), FQ_READ, &mine) != 0) return 1;
                                   if (fq_lease(mine, &m, 60000, 0) != 0) return 2;
                                   const int rc = fq_dead_letter(m, "disk full");
                                   const int held = fq_msg_leased(m);  // not lost, not dead
                                   fq_msg_free(m);                     // gives it back
                                   fq_close(mine);
                                   if (rc != FQ_ENOSPC) return 10 - rc;
                                   return held == 1 ? 0 : 3;
                                 }),
            0);
  // It comes back and can die properly now.
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_lease(q, &m, 60000, 5000), 0);
  EXPECT_EQ(std::string(static_cast<const char *>(fq_msg_data(m)), fq_msg_size(m)), "precious");
  EXPECT_EQ(fq_dead_letter(m, "disk fixed"), 0);
  fq_msg_free(m);
  fq_close(q);
}

}  // namespace
