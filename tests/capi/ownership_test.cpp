// Files planted or swapped by another user (issue: "filesystem attacks"):
// fq trusts a file that is the caller's or root's, or one its owner kept
// from everyone outside the owner's group; anything else is FQ_EFOREIGN,
// refused before a byte is read or written. These tests run as root and
// play the other user with setuid in a child.
#include <fcntl.h>
#include <sys/stat.h>

#include "test_support.hpp"

using namespace fqtest;

namespace {

constexpr uid_t kOther = 65534;  // nobody

bool exists(const std::string &p) { return ::access(p.c_str(), F_OK) == 0; }

// Runs `body` as the other user; its exit status.
int as_other_user(const std::function<int()> &body) {
  return wait_exit(spawn([&] {
    if (::setgid(kOther) != 0 || ::setuid(kOther) != 0) return 90;
    return body();
  }));
}

class Ownership : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "these tests play two users: run them as root";
    // A shared directory as /tmp is: world-writable, sticky.
    ASSERT_EQ(::chmod(dir_.file("").c_str(), 01777), 0);
  }
  TempDir dir_;
};

TEST_F(Ownership, AFifoPlantedByAnotherUserIsRefused) {
  const std::string path = dir_.file("jobs.fifo");
  ASSERT_EQ(as_other_user([&] { return ::mkfifo(path.c_str(), 0666) == 0 ? 0 : 1; }), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);  // past our umask, as the planter meant it
  fq_queue *q = nullptr;
  EXPECT_EQ(fq_open(path.c_str(), FQ_READ | FQ_WRITE | FQ_CREATE, &q), FQ_EFOREIGN);
  EXPECT_EQ(q, nullptr);
  EXPECT_FALSE(exists(path + ".fq-state"));  // refused before anything was made
  EXPECT_STRNE(fq_strerror(FQ_EFOREIGN), fq_strerror(FQ_EACCES));
}

TEST_F(Ownership, AQueueItsOwnerSharesWithAGroupIsUsable) {
  const std::string path = dir_.file("team.fifo");
  ASSERT_EQ(as_other_user([&] {
              fq_opts o = FQ_OPTS_INIT;
              o.mode = 0660;
              fq_queue *q = nullptr;
              if (fq_open_opts(path.c_str(), FQ_WRITE | FQ_CREATE, &o, &q) != 0) return 1;
              if (fq_send(q, "from the owner", 14) != 0) return 2;
              return fq_close(q);
            }),
            0);
  fq_queue *q = open_or_die(path, FQ_READ);
  ASSERT_NE(q, nullptr);
  char buf[32];
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 1000), 0);
  EXPECT_EQ(std::string(buf, len), "from the owner");
  fq_close(q);
}

TEST_F(Ownership, AGroupSharedQueueCarriesLargeMessagesBetweenItsUsers) {
  // The owner sends; a second user of the group receives. /dev/shm is sticky,
  // so the receiver cannot rename the owner's payload file: it must still get
  // the message, and the one behind it.
  const std::string path = dir_.file("team.fifo");
  // Where /dev/shm is not the usual shared tmpfs (a chroot that bind-mounts
  // /dev alone sees root's bare directory), a user cannot make payload files:
  // the large send must then fail cleanly and the queue go on.
  struct stat shm;
  ASSERT_EQ(::stat("/dev/shm", &shm), 0);
  const bool shared_shm = (shm.st_mode & 01777) == 01777;
  ASSERT_EQ(as_other_user([&] {
              ::umask(007);
              fq_opts o = FQ_OPTS_INIT;
              o.mode = 0660;
              fq_queue *q = nullptr;
              if (fq_open_opts(path.c_str(), FQ_WRITE | FQ_CREATE, &o, &q) != 0) return 1;
              const auto big = make_msg(1, 0, 1 << 20);
              const int sent = fq_send(q, big.data(), big.size());
              if (sent != (shared_shm ? 0 : FQ_EACCES)) return 2;
              if (fq_send(q, "behind it", 9) != 0) return 3;
              return fq_close(q);  // what is in the pipe moves to the state file
            }),
            0);
  const int rc = wait_exit(spawn([&] {
    if (::setgid(kOther) != 0 || ::setuid(kOther - 1) != 0) return 90;  // same group, other user
    fq_queue *q = nullptr;
    if (fq_open(path.c_str(), FQ_READ, &q) != 0) return 1;
    std::vector<uint8_t> buf(1 << 20);
    size_t len = 0;
    uint32_t s, seq;
    if (shared_shm) {
      if (fq_recv_timeout(q, buf.data(), buf.size(), &len, 1000) != 0) return 2;
      if (!check_msg(buf.data(), len, s, seq) || len != buf.size()) return 3;
    }
    if (fq_recv_timeout(q, buf.data(), buf.size(), &len, 1000) != 0) return 4;
    if (std::string(reinterpret_cast<char *>(buf.data()), len) != "behind it") return 5;
    return fq_close(q);
  }));
  EXPECT_EQ(rc, 0);
  fq_unlink(path.c_str());
}

TEST_F(Ownership, AStateFileSwappedByAnotherUserIsRefused) {
  const std::string path = dir_.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "mine", 4), 0);
  fq_close(q);
  // Root's FIFO stays; the state beside it is replaced by one the other user
  // made for everyone: it would see and forge every message.
  const std::string state = path + ".fq-state";
  ASSERT_EQ(::unlink(state.c_str()), 0);
  ASSERT_EQ(as_other_user([&] {
              const int fd = ::open(state.c_str(), O_RDWR | O_CREAT | O_EXCL, 0666);
              return fd >= 0 && ::fchmod(fd, 0666) == 0 ? 0 : 1;
            }),
            0);
  EXPECT_EQ(fq_open(path.c_str(), FQ_READ, &q), FQ_EFOREIGN);
}

TEST_F(Ownership, ADeadLogPlantedByAnotherUserIsRefusedAndTheMessageKept) {
  const std::string path = dir_.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_NE(q, nullptr);
  const std::string log = path + ".fq-dead";
  ASSERT_EQ(as_other_user([&] {
              const int fd = ::open(log.c_str(), O_RDWR | O_CREAT | O_EXCL, 0666);
              return fd >= 0 && ::fchmod(fd, 0666) == 0 ? 0 : 1;
            }),
            0);
  ASSERT_EQ(fq_send(q, "secret", 6), 0);
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_lease(q, &m, 60000, 0), 0);
  EXPECT_EQ(fq_dead_letter(m, "boom"), FQ_EFOREIGN);
  EXPECT_EQ(fq_msg_leased(m), 1);  // still held, not lost
  struct stat st;
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);  // the other user learnt nothing
  EXPECT_EQ(fq_ack(m), 0);
  fq_msg_free(m);
  fq_close(q);
}

TEST_F(Ownership, AnotherUserCannotReadOrInjectIntoAPrivateQueue) {
  const std::string path = dir_.file("private");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);  // 0600
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(fq_send(q, "for root only", 13), 0);
  EXPECT_EQ(as_other_user([&] {
              fq_queue *theirs = nullptr;
              if (fq_open(path.c_str(), FQ_READ, &theirs) != FQ_EACCES) return 1;
              if (fq_open(path.c_str(), FQ_WRITE, &theirs) != FQ_EACCES) return 2;
              const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
              return fd < 0 && errno == EACCES ? 0 : 3;  // nor `echo >> private`
            }),
            0);
  char buf[32];
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), 0);
  EXPECT_EQ(std::string(buf, len), "for root only");
  EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), FQ_EAGAIN);
  fq_close(q);
}

}  // namespace
