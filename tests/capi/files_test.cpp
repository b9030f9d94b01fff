// Guarantee 9 (safe files) and bad input: every case a clear code, no crash.
#include <sys/stat.h>

#include <climits>

#include "test_support.hpp"

using namespace fqtest;

namespace {

TEST(Files, CreatedWithMode0600ByDefault) {
  TempDir dir;
  const std::string path = dir.file("q");
  const mode_t old = ::umask(0);
  fq_queue *q = open_or_die(path, FQ_WRITE | FQ_CREATE);
  ::umask(old);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((path + ".fq-state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  fq_close(q);
}

TEST(Files, ModeOptionIsHonouredDespiteUmask) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_opts o = FQ_OPTS_INIT;
  o.mode = 0660;
  const mode_t old = ::umask(077);
  fq_queue *q = open_or_die(path, FQ_WRITE | FQ_CREATE, &o);
  ::umask(old);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  fq_close(q);
}

TEST(Files, SymlinkAtThePathIsNotFollowed) {
  TempDir dir;
  const std::string target = dir.file("target");
  ASSERT_EQ(::mkfifo(target.c_str(), 0600), 0);
  const std::string link = dir.file("q");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  fq_queue *q = nullptr;
  EXPECT_EQ(fq_open(link.c_str(), FQ_READ | FQ_CREATE, &q), FQ_ESYMLINK);
  EXPECT_EQ(q, nullptr);
  EXPECT_EQ(fq_unlink(link.c_str()), FQ_ESYMLINK);
  struct stat st;
  EXPECT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "fq_unlink removed a symlink it refused";
}

TEST(Files, RegularFileDirectoryAndMissingParent) {
  TempDir dir;
  const std::string file = dir.file("regular");
  FILE *f = std::fopen(file.c_str(), "w");
  std::fputs("precious", f);
  std::fclose(f);
  fq_queue *q = nullptr;
  EXPECT_EQ(fq_open(file.c_str(), FQ_READ | FQ_WRITE | FQ_CREATE, &q), FQ_ENOTFIFO);
  EXPECT_EQ(fq_unlink(file.c_str()), FQ_ENOTFIFO);
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8) << "the regular file was touched";

  const std::string d = dir.file("dir");
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  EXPECT_EQ(fq_open(d.c_str(), FQ_READ, &q), FQ_ENOTFIFO);
  EXPECT_EQ(fq_open(dir.file("missing/q").c_str(), FQ_READ | FQ_CREATE, &q), FQ_ENOENT);
  EXPECT_EQ(fq_open(dir.file("absent").c_str(), FQ_READ, &q), FQ_ENOENT);
  EXPECT_EQ(fq_unlink(dir.file("absent").c_str()), FQ_ENOENT);
}

TEST(Files, PermissionDenied) {
  if (::geteuid() == 0) {
    // root passes every permission check: ask as an unprivileged child.
    TempDir dir;
    const std::string path = dir.file("q");
    fq_queue *q = open_or_die(path, FQ_WRITE | FQ_CREATE);
    const pid_t child = spawn([&] {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
      fq_queue *other = nullptr;
      return fq_open(path.c_str(), FQ_READ, &other) == FQ_EACCES ? 0 : 1;
    });
    EXPECT_EQ(wait_exit(child), 0);
    fq_close(q);
    return;
  }
  TempDir dir;
  const std::string path = dir.file("q");
  ASSERT_EQ(::mkfifo(path.c_str(), 0), 0);
  fq_queue *q = nullptr;
  EXPECT_EQ(fq_open(path.c_str(), FQ_READ, &q), FQ_EACCES);
}

// Every entry point with NULLs, zero, huge sizes and wrong flags.
TEST(BadInput, EveryFunctionRejectsNonsenseWithACode) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  fq_queue *ro = open_or_die(path, FQ_READ);
  fq_queue *wo = open_or_die(path, FQ_WRITE);
  fq_queue *out = nullptr;
  char buf[8];
  size_t len;
  fq_opts tiny = FQ_OPTS_INIT;
  tiny.size = 1;
  fq_opts bad_mode = FQ_OPTS_INIT;
  bad_mode.mode = 04777;
  fq_stats st = FQ_STATS_INIT;
  const iovec iov{nullptr, 5};
  char x = 'x';
  const iovec one{&x, 1};
  size_t lens[2];
  fq_msg *msg = nullptr;
  fq_dead_log *log = nullptr;
  fq_policy tiny_policy = FQ_POLICY_INIT;
  tiny_policy.size = 1;
  struct Case {
    const char *what;
    int got, want;
  } cases[] = {
      {"open NULL path", fq_open(nullptr, FQ_READ, &out), FQ_EINVAL},
      {"open NULL out", fq_open(path.c_str(), FQ_READ, nullptr), FQ_EINVAL},
      {"open no mode flags", fq_open(path.c_str(), 0, &out), FQ_EINVAL},
      {"open unknown flag", fq_open(path.c_str(), FQ_READ | 1024, &out), FQ_EINVAL},
      {"open negative flags", fq_open(path.c_str(), -1, &out), FQ_EINVAL},
      {"open empty path", fq_open("", FQ_READ, &out), FQ_EINVAL},
      {"open opts too small", fq_open_opts(path.c_str(), FQ_READ, &tiny, &out), FQ_EINVAL},
      {"open bad mode", fq_open_opts(path.c_str(), FQ_READ, &bad_mode, &out), FQ_EINVAL},
      {"send NULL queue", fq_send(nullptr, "x", 1), FQ_EINVAL},
      {"send NULL data", fq_send(q, nullptr, 1), FQ_EINVAL},
      {"send huge", fq_send(q, buf, SIZE_MAX), FQ_EMSGSIZE},
      {"send on read-only", fq_send(ro, "x", 1), FQ_EBADF},
      {"send_timeout NULL", fq_send_timeout(nullptr, "x", 1, 0), FQ_EINVAL},
      {"sendv NULL iov", fq_sendv(q, nullptr, 1, 0), FQ_EINVAL},
      {"sendv negative count", fq_sendv(q, &iov, -1, 0), FQ_EINVAL},
      {"sendv NULL base", fq_sendv(q, &iov, 1, 0), FQ_EINVAL},
      {"send_many NULL queue", fq_send_many(nullptr, &iov, 1, &len, 0), FQ_EINVAL},
      {"send_many NULL msgs", fq_send_many(q, nullptr, 1, &len, 0), FQ_EINVAL},
      {"send_many NULL base", fq_send_many(q, &iov, 1, &len, 0), FQ_EINVAL},
      {"send_many on read-only", fq_send_many(ro, &one, 1, &len, 0), FQ_EBADF},
      {"recv_many NULL queue", fq_recv_many(nullptr, buf, 8, lens, 2, &len, 0), FQ_EINVAL},
      {"recv_many NULL lens", fq_recv_many(q, buf, 8, nullptr, 2, &len, 0), FQ_EINVAL},
      {"recv_many NULL count", fq_recv_many(q, buf, 8, lens, 2, nullptr, 0), FQ_EINVAL},
      {"recv_many zero max", fq_recv_many(q, buf, 8, lens, 0, &len, 0), FQ_EINVAL},
      {"recv_many NULL buf", fq_recv_many(q, nullptr, 8, lens, 2, &len, 0), FQ_EINVAL},
      {"recv_many on write-only", fq_recv_many(wo, buf, 8, lens, 2, &len, 0), FQ_EBADF},
      {"recv NULL queue", fq_recv(nullptr, buf, 8, &len), FQ_EINVAL},
      {"recv NULL len", fq_recv(q, buf, 8, nullptr), FQ_EINVAL},
      {"recv NULL buf", fq_recv(q, nullptr, 8, &len), FQ_EINVAL},
      {"recv on write-only", fq_recv_timeout(wo, buf, 8, &len, 0), FQ_EBADF},
      {"recv_timeout NULL", fq_recv_timeout(nullptr, buf, 8, &len, 0), FQ_EINVAL},
      {"next_size NULL", fq_next_size(nullptr, &len, 0), FQ_EINVAL},
      {"next_size NULL len", fq_next_size(q, nullptr, 0), FQ_EINVAL},
      {"stats NULL", fq_get_stats(q, nullptr), FQ_EINVAL},
      {"stats NULL queue", fq_get_stats(nullptr, &st), FQ_EINVAL},
      {"close NULL", fq_close(nullptr), FQ_EINVAL},
      {"unlink NULL", fq_unlink(nullptr), FQ_EINVAL},
      {"task_done NULL", fq_task_done(nullptr), FQ_EINVAL},
      {"task_done with nothing sent", fq_task_done(q), over_broker() ? FQ_ENOTSUP : FQ_EINVAL},
      {"join NULL", fq_join(nullptr, 0), FQ_EINVAL},
      {"recv_msg NULL out", fq_recv_msg(q, nullptr, 0), FQ_EINVAL},
      {"lease lease_ms -2", fq_lease(q, &msg, -2, 0), FQ_EINVAL},
      {"lease on write-only", fq_lease(wo, &msg, 10, 0), FQ_EBADF},
      {"policy NULL", fq_set_policy(q, nullptr), FQ_EINVAL},
      {"policy too small", fq_set_policy(q, &tiny_policy), FQ_EINVAL},
      {"redrive NULL", fq_redrive(nullptr, nullptr, nullptr), FQ_EINVAL},
      {"redrive write-only", fq_redrive(wo, nullptr, nullptr), FQ_EBADF},
      {"dead_open NULL", fq_dead_open(nullptr, &log), FQ_EINVAL},
  };
  for (const Case &c : cases) EXPECT_EQ(c.got, c.want) << c.what << ": " << fq_strerror(c.got);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(msg, nullptr);
  EXPECT_EQ(log, nullptr);
  // Nothing above sent anything.
  EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), FQ_EAGAIN);
  fq_close(wo);
  fq_close(ro);
  fq_close(q);
}

TEST(BadInput, StrerrorNeverReturnsNull) {
  for (int e : {INT_MIN, -1000, -17, -16, -1, 0, 1, 1000, INT_MAX}) {
    ASSERT_NE(fq_strerror(e), nullptr);
    EXPECT_GT(std::strlen(fq_strerror(e)), 0u);
  }
  EXPECT_STREQ(fq_strerror(FQ_ETIMEDOUT), "timed out");
  EXPECT_STRNE(fq_strerror(FQ_EINTR), fq_strerror(FQ_EAGAIN));
  EXPECT_EQ(fq_version(), FQ_VERSION);
}

TEST(BadInput, StatsReadOnlyTheCallersSize) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_EQ(fq_send(q, "abc", 3), 0);
  struct {
    fq_stats s;
    uint64_t canary;
  } old_caller;
  old_caller.canary = 0x1234;
  old_caller.s.size = offsetof(fq_stats, sent);  // a caller built against a smaller struct
  ASSERT_EQ(fq_get_stats(q, &old_caller.s), 0);
  EXPECT_EQ(old_caller.s.queued_msgs, 1u);
  EXPECT_EQ(old_caller.s.size, offsetof(fq_stats, sent));
  EXPECT_EQ(old_caller.canary, 0x1234u);
  fq_close(q);
}

}  // namespace
