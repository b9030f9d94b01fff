// What only the broker transport does, run under with_rabbitmq.sh: choosing
// it, its names, its errors, and a fork child that holds its parent's lease.
// The behaviour both transports share is tested by capi_test_broker.
#include <arpa/inet.h>
#include <fq.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

std::string unique(const char *what) { return std::string(what) + "-" + std::to_string(getpid()); }

int wait_for(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class Broker : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("FQ_BROKER"), nullptr) << "run under with_rabbitmq.sh";
  }
};

TEST_F(Broker, NamesAreQueuesNotFiles) {
  const std::string name = "/tmp/" + unique("no-such-dir") + "/q.fifo";
  fq_queue *q = nullptr;
  EXPECT_EQ(fq_open(name.c_str(), FQ_READ, &q), FQ_ENOENT);  // no queue yet
  ASSERT_EQ(fq_open(name.c_str(), FQ_READ | FQ_WRITE | FQ_CREATE, &q), 0);
  struct stat st;
  EXPECT_NE(stat(name.c_str(), &st), 0) << "nothing is created on the file system";
  ASSERT_EQ(fq_send(q, "x", 1), 0);
  fq_close(q);
  // ./a and a name one queue, as they name one FIFO.
  const std::string rel = unique("rel");
  ASSERT_EQ(fq_open(("./" + rel).c_str(), FQ_WRITE | FQ_CREATE, &q), 0);
  ASSERT_EQ(fq_send(q, "same", 4), 0);
  fq_close(q);
  ASSERT_EQ(fq_open(rel.c_str(), FQ_READ, &q), 0);
  char buf[8];
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 5000), 0);
  EXPECT_EQ(std::string(buf, len), "same");
  fq_close(q);
  EXPECT_EQ(fq_unlink(rel.c_str()), 0);
  EXPECT_EQ(fq_unlink(rel.c_str()), FQ_ENOENT);
  EXPECT_EQ(fq_unlink(name.c_str()), 0);
  EXPECT_EQ(fq_open(std::string(256, 'q').c_str(), FQ_READ | FQ_CREATE, &q), FQ_EINVAL);
}

TEST_F(Broker, FifoOnlyCallsSaySo) {
  const std::string name = unique("fifo-only");
  fq_queue *q = nullptr;
  EXPECT_EQ(fq_open(name.c_str(), FQ_WRITE | FQ_LINES | FQ_CREATE, &q), FQ_EINVAL);
  ASSERT_EQ(fq_open(name.c_str(), FQ_READ | FQ_WRITE | FQ_CREATE, &q), 0);
  EXPECT_EQ(fq_task_done(q), FQ_ENOTSUP);
  EXPECT_EQ(fq_join(q, 0), FQ_ENOTSUP);
  fq_close(q);
  EXPECT_EQ(fq_unlink(name.c_str()), 0);
}

TEST_F(Broker, OptionsChooseTheTransportPerHandle) {
  // "" in the options: a FIFO, whatever FQ_BROKER says.
  char dir[] = "/tmp/fq-broker-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/q.fifo";
  fq_opts o = FQ_OPTS_INIT;
  o.broker = "";
  fq_queue *q = nullptr;
  ASSERT_EQ(fq_open_opts(fifo.c_str(), FQ_READ | FQ_WRITE | FQ_CREATE, &o, &q), 0);
  struct stat st;
  ASSERT_EQ(stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  fq_close(q);
  // fq_unlink follows FQ_BROKER; remove the FIFO's files by hand.
  for (const char *suffix : {"", ".fq-state", ".fq-bell"}) unlink((fifo + suffix).c_str());
  rmdir(dir);

  // A broker nobody listens on: a clear error, at once.
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr *>(&a), &alen), 0);
  const std::string url = "amqp://guest:guest@127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  close(s);  // the port is free: nothing listens
  o.broker = url.c_str();
  const auto t0 = Clock::now();
  EXPECT_EQ(fq_open_opts("jobs", FQ_READ, &o, &q), FQ_EBROKER);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  o.broker = "http://not-amqp";
  EXPECT_EQ(fq_open_opts("jobs", FQ_READ, &o, &q), FQ_EINVAL);
}

TEST_F(Broker, AForkChildCannotSettleItsParentsLease) {
  const std::string name = unique("fork-lease");
  fq_queue *q = nullptr;
  ASSERT_EQ(fq_open(name.c_str(), FQ_READ | FQ_WRITE | FQ_CREATE, &q), 0);
  ASSERT_EQ(fq_send(q, "held", 4), 0);
  fq_msg *m = nullptr;
  ASSERT_EQ(fq_lease(q, &m, 60000, 5000), 0);
  const pid_t child = fork();
  if (child == 0) {
    // The parent's delivery: acking it on the parent's socket would corrupt
    // the parent's connection; the child gets its own and is told no.
    if (fq_ack(m) != FQ_ELEASELOST) _exit(1);
    if (fq_send(q, "from child", 10) != 0) _exit(2);
    _exit(fq_close(q));  // must not close the parent's connection either
  }
  ASSERT_EQ(wait_for(child), 0);
  EXPECT_EQ(fq_ack(m), 0) << "the parent's lease and connection are intact";
  fq_msg_free(m);
  char buf[16];
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 5000), 0);
  EXPECT_EQ(std::string(buf, len), "from child");
  EXPECT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 0), FQ_EAGAIN) << "acked once, gone";
  fq_close(q);
  EXPECT_EQ(fq_unlink(name.c_str()), 0);
}

}  // namespace
