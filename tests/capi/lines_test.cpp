// Guarantee 3: frames and text lines on one queue; the shell interoperates.
#include "test_support.hpp"

using namespace fqtest;

namespace {

std::string recv_str(fq_queue *q, int timeout_ms = 5000) {
  char buf[8192];
  size_t len = 0;
  const int r = fq_recv_timeout(q, buf, sizeof buf, &len, timeout_ms);
  if (r != 0) return std::string("<") + fq_strerror(r) + ">";
  return std::string(buf, len);
}

int sh(const std::string &cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(Lines, EchoFromTheShellIsOneMessage) {
  TempDir dir;
  const std::string path = dir.file("jobs.fifo");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  // timeout(1) turns a blocked echo into a failure instead of a hang.
  ASSERT_EQ(sh("timeout 10 sh -c 'echo job >> " + path + "'"), 0);
  ASSERT_EQ(sh("timeout 10 sh -c 'printf \"a b\\tc\\nsecond line\\n\" >> " + path + "'"), 0);
  EXPECT_EQ(recv_str(q), "job");
  EXPECT_EQ(recv_str(q), "a b\tc");
  EXPECT_EQ(recv_str(q), "second line");
  fq_close(q);
}

TEST(Lines, EchoDoesNotBlockWhileAWriterOnlyHandleIsOpen) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *w = open_or_die(path, FQ_WRITE | FQ_CREATE);
  ASSERT_EQ(sh("timeout 10 sh -c 'echo hi >> " + path + "'"), 0);
  fq_queue *r = open_or_die(path, FQ_READ);
  EXPECT_EQ(recv_str(r), "hi");
  fq_close(r);
  fq_close(w);
}

TEST(Lines, FramesAndLinesMixOnOneQueue) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  fq_queue *lines = open_or_die(path, FQ_WRITE | FQ_LINES);
  const std::vector<uint8_t> binary = {0, 1, '\n', 0xFE, 0xFF, '\n'};
  ASSERT_EQ(fq_send(q, binary.data(), binary.size()), 0);
  ASSERT_EQ(fq_send(lines, "héllo wörld", std::strlen("héllo wörld")), 0);
  ASSERT_EQ(sh("echo from-shell >> " + path), 0);
  ASSERT_EQ(fq_send(q, "frame", 5), 0);
  const std::string first = recv_str(q);
  EXPECT_EQ(std::vector<uint8_t>(first.begin(), first.end()), binary);
  EXPECT_EQ(recv_str(q), "héllo wörld");
  EXPECT_EQ(recv_str(q), "from-shell");
  EXPECT_EQ(recv_str(q), "frame");
  fq_close(lines);
  fq_close(q);
}

TEST(Lines, ALineIsWrittenWithANewlineForReadersOfTheSeeds) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *lines = open_or_die(path, FQ_WRITE | FQ_LINES | FQ_CREATE);
  ASSERT_EQ(fq_send(lines, "https://api.kanye.rest/", 23), 0);
  // A plain reader (the seeds' Ruby `read until \n`) sees text and a newline.
  FILE *p = ::popen(("timeout 10 head -n 1 " + path).c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[64] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, p), nullptr);
  ::pclose(p);
  EXPECT_STREQ(buf, "https://api.kanye.rest/\n");
  fq_close(lines);
}

TEST(Lines, NewlineOrBinaryInALineIsRefused) {
  TempDir dir;
  fq_queue *lines = open_or_die(dir.file("q"), FQ_READ | FQ_WRITE | FQ_LINES | FQ_CREATE);
  EXPECT_EQ(fq_send(lines, "two\nlines", 9), FQ_EINVAL);
  EXPECT_EQ(fq_send(lines, "nul\0byte", 8), FQ_EINVAL);
  EXPECT_EQ(fq_send(lines, "\xff\xfe", 2), FQ_EINVAL);
  const std::string longest(4095, 'x');
  EXPECT_EQ(fq_send(lines, longest.data(), longest.size()), 0);
  const std::string too_long(4096, 'x');
  EXPECT_EQ(fq_send(lines, too_long.data(), too_long.size()), FQ_EMSGSIZE);
  EXPECT_EQ(recv_str(lines), longest);
  char buf[1];
  size_t len;
  EXPECT_EQ(fq_recv_timeout(lines, buf, 1, &len, 0), FQ_EAGAIN) << "a refused line was sent";
  fq_close(lines);
}

TEST(Lines, EmptyLineIsAnEmptyMessage) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_EQ(sh("echo >> " + path), 0);
  EXPECT_EQ(recv_str(q), "");
  fq_close(q);
}

TEST(Lines, BufferTooSmallKeepsALine) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, FQ_READ | FQ_WRITE | FQ_CREATE);
  ASSERT_EQ(sh("echo 0123456789 >> " + path), 0);
  char buf[4];
  size_t len = 0;
  ASSERT_EQ(fq_recv_timeout(q, buf, sizeof buf, &len, 5000), FQ_ETOOSMALL);
  EXPECT_EQ(len, 10u);
  EXPECT_EQ(recv_str(q), "0123456789");
  fq_close(q);
}

}  // namespace
