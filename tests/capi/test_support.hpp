// Shared by the C API tests: temporary directories, real child processes,
// and self-describing messages that a receiver can verify on its own.
#pragma once
#include <fq.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "shared_state.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace fqtest {

// Where the state file keeps the queue's token (core/shared_state.hpp).
constexpr size_t kTokenOffset = offsetof(fq::StateHeader, token);

// True when the tests run over RabbitMQ (tests/broker): checks of the FIFO's
// own files beside the queue do not apply there (core/broker.md).
inline bool over_broker() {
  const char *url = std::getenv("FQ_BROKER");
  return url && *url;
}

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/fq-test-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(path_, ec)) {
      if (e.path().extension() != ".fq-state" && e.is_fifo(ec)) fq_unlink(e.path().c_str());
    }
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `body` in a forked child; its return value is the exit status.
inline pid_t spawn(const std::function<int()> &body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 99;
    try {
      rc = body();
    } catch (...) {
      rc = 98;
    }
    ::_exit(rc);
  }
  return pid;
}

// Waits for `pid` at most `timeout_ms`; kills it if it overstays. Returns its
// exit status, or -SIGNAL if it died of a signal, or -1000 if it overstayed.
inline int wait_exit(pid_t pid, int timeout_ms = 60000) {
  const int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    ::close(pidfd);
    if (r == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return -1000;
    }
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -2000;
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return WEXITSTATUS(status);
}

// A helper process that sends SIGUSR1 to us every few milliseconds until we
// tell it to stop: whichever signal lands while we block interrupts the call,
// without guessing when the call has started blocking.
class SignalPester {
 public:
  SignalPester() {
    struct sigaction sa = {};
    sa.sa_handler = [](int) {};
    sa.sa_flags = 0;  // no SA_RESTART: the wait must see EINTR
    sigaction(SIGUSR1, &sa, &old_);
    const pid_t target = ::getpid();
    if (::pipe(stop_) != 0) std::abort();
    pid_ = spawn([&] {
      ::close(stop_[1]);
      pollfd p{stop_[0], POLLIN, 0};
      while (::poll(&p, 1, 5) == 0) ::kill(target, SIGUSR1);
      return 0;
    });
    ::close(stop_[0]);
  }
  ~SignalPester() {
    // Block, reap, then swallow a signal still in flight, so none lands in a
    // later test (valgrind in particular delivers signals late).
    sigset_t usr1, old_mask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);
    ::close(stop_[1]);
    wait_exit(pid_);
    const timespec zero{0, 0};
    while (sigtimedwait(&usr1, nullptr, &zero) == SIGUSR1) {
    }
    sigaction(SIGUSR1, &old_, nullptr);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  }

 private:
  struct sigaction old_ = {};
  int stop_[2];
  pid_t pid_;
};

// True once process or thread `id` is asleep (state S), as one blocked in
// fq_recv or fq_join is. /proc/<tid> works for threads too, though unlisted.
inline bool asleep(pid_t id) {
  FILE *f = std::fopen(("/proc/" + std::to_string(id) + "/stat").c_str(), "r");
  if (!f) return false;
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const char *close_paren = std::strrchr(buf, ')');  // the name may hold spaces
  return n > 0 && close_paren && close_paren[1] == ' ' && close_paren[2] == 'S';
}

// A message that names its sender and sequence number and checks itself:
// [sender u32][seq u32][len u32][sum u32] then bytes derived from them.
constexpr size_t kMsgHeader = 16;

inline uint8_t pattern_byte(uint32_t sender, uint32_t seq, size_t i) {
  return uint8_t((i * 131u) ^ (sender * 7u) ^ (seq * 13u) ^ (i >> 8));
}

inline std::vector<uint8_t> make_msg(uint32_t sender, uint32_t seq, size_t len) {
  if (len < kMsgHeader) len = kMsgHeader;
  std::vector<uint8_t> m(len);
  uint32_t sum = 0;
  for (size_t i = kMsgHeader; i < len; ++i) {
    m[i] = pattern_byte(sender, seq, i);
    sum += m[i];
  }
  const uint32_t h[4] = {sender, seq, uint32_t(len), sum};
  std::memcpy(m.data(), h, sizeof h);
  return m;
}

// True if `p[0..len)` is intact; sets sender and seq.
inline bool check_msg(const uint8_t *p, size_t len, uint32_t &sender, uint32_t &seq) {
  if (len < kMsgHeader) return false;
  uint32_t h[4];
  std::memcpy(h, p, sizeof h);
  if (h[2] != len) return false;
  uint32_t sum = 0;
  for (size_t i = kMsgHeader; i < len; ++i) {
    if (p[i] != pattern_byte(h[0], h[1], i)) return false;
    sum += p[i];
  }
  sender = h[0];
  seq = h[1];
  return sum == h[3];
}

// Payload files in /dev/shm of the queue at `path`, found by the token in its
// state file (the slot arena, fq-<token>-slots, lives as long as the queue
// and is not one). Other queues' files, say of a concurrent test run, are
// not either. Empty if the state file cannot be read.
inline std::vector<std::filesystem::path> payload_files(const std::string &path) {
  FILE *f = std::fopen((path + ".fq-state").c_str(), "rb");
  if (!f) return {};
  uint64_t token = 0;
  const bool ok = std::fseek(f, long(kTokenOffset), SEEK_SET) == 0 &&
                  std::fread(&token, sizeof token, 1, f) == 1;
  std::fclose(f);
  if (!ok) return {};
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "fq-%016llx-", static_cast<unsigned long long>(token));
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name != std::string(prefix) + "slots") files.push_back(e);
  }
  return files;
}

// How many payload_files(path) there are; size_t(-1) without a state file.
inline size_t count_payload_files(const std::string &path) {
  if (over_broker()) return 0;  // payloads travel in the broker's messages, never in files
  if (::access((path + ".fq-state").c_str(), R_OK) != 0) return size_t(-1);
  return payload_files(path).size();
}

inline fq_queue *open_or_die(const std::string &path, int flags, const fq_opts *o = nullptr) {
  fq_queue *q = nullptr;
  const int r = fq_open_opts(path.c_str(), flags, o, &q);
  if (r != 0) {
    ADD_FAILURE() << "fq_open " << path << ": " << fq_strerror(r);
    return nullptr;
  }
  return q;
}

}  // namespace fqtest
