// fq_send_many and fq_recv_many: many messages per call, each still whole,
// in order, counted and bounded as a single send or receive would be.
#include "test_support.hpp"

using namespace fqtest;

namespace {

constexpr int kRW = FQ_READ | FQ_WRITE | FQ_CREATE;

std::vector<iovec> iovecs(std::vector<std::vector<uint8_t>> &msgs) {
  std::vector<iovec> v;
  for (auto &m : msgs) v.push_back(iovec{m.data(), m.size()});
  return v;
}

TEST(Batch, EveryMessageArrivesWholeAndInOrderAcrossProcesses) {
  TempDir dir;
  const std::string path = dir.file("q");
  fq_queue *q = open_or_die(path, kRW);
  ASSERT_NE(q, nullptr);
  // Small ones share writes; the inline limit, shared memory and 1 MiB go alone.
  std::vector<size_t> sizes;
  for (int round = 0; round < 50; ++round) {
    for (size_t s : {16, 17, 64, 100, 1000, 4079, 4080, 4081, 65536, 200000}) sizes.push_back(s);
  }
  sizes.push_back(1u << 20);
  const pid_t sender = spawn([&] {
    fq_queue *w = nullptr;
    if (fq_open(path.c_str(), FQ_WRITE, &w) != 0) return 1;
    std::vector<std::vector<uint8_t>> msgs;
    for (size_t i = 0; i < sizes.size(); ++i) msgs.push_back(make_msg(1, uint32_t(i), sizes[i]));
    std::vector<iovec> v = iovecs(msgs);
    size_t sent = 0;
    if (fq_send_many(w, v.data(), v.size(), &sent, 30000) != 0) return 2;
    if (sent != v.size()) return 3;
    return fq_close(w);
  });
  std::vector<uint8_t> buf(2u << 20);
  std::vector<size_t> lens(64);
  size_t got = 0, calls = 0;
  while (got < sizes.size()) {
    size_t count = 0;
    ASSERT_EQ(fq_recv_many(q, buf.data(), buf.size(), lens.data(), lens.size(), &count, 30000), 0);
    ASSERT_GE(count, 1u);
    ++calls;
    size_t off = 0;
    for (size_t i = 0; i < count; ++i, ++got) {
      uint32_t s, seq;
      ASSERT_TRUE(check_msg(buf.data() + off, lens[i], s, seq)) << "message " << got;
      EXPECT_EQ(seq, got);
      EXPECT_EQ(lens[i], sizes[got]);
      off += lens[i];
    }
  }
  EXPECT_EQ(wait_exit(sender), 0);
  EXPECT_LT(calls, sizes.size()) << "no call took more than one message";
  fq_stats s = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &s), 0);
  EXPECT_EQ(s.queued_msgs, 0u);
  if (!over_broker()) {  // queue-wide counters (core/broker.md)
    EXPECT_EQ(s.sent, sizes.size());
    EXPECT_EQ(s.received, sizes.size());
    EXPECT_EQ(s.unfinished, sizes.size());
  }
  fq_close(q);
}

TEST(Batch, ReceiveStopsBeforeWhatDoesNotFitAndKeepsIt) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW);
  ASSERT_NE(q, nullptr);
  std::vector<std::vector<uint8_t>> msgs = {make_msg(1, 0, 100), make_msg(1, 1, 100),
                                            make_msg(1, 2, 300), make_msg(1, 3, 100)};
  std::vector<iovec> v = iovecs(msgs);
  ASSERT_EQ(fq_send_many(q, v.data(), v.size(), nullptr, 0), 0);
  std::vector<uint8_t> buf(250);
  size_t lens[8], count = 99;
  ASSERT_EQ(fq_recv_many(q, buf.data(), buf.size(), lens, 8, &count, 0), 0);
  EXPECT_EQ(count, 2u);  // the third (300 B) does not fit in what is left
  // Alone it does not fit at all: kept, and its size told.
  ASSERT_EQ(fq_recv_many(q, buf.data(), buf.size(), lens, 8, &count, 0), FQ_ETOOSMALL);
  EXPECT_EQ(count, 0u);
  size_t next = 0;
  ASSERT_EQ(fq_next_size(q, &next, 0), 0);
  EXPECT_EQ(next, 300u);
  buf.resize(1000);
  ASSERT_EQ(fq_recv_many(q, buf.data(), buf.size(), lens, 1, &count, 0), 0);
  EXPECT_EQ(count, 1u);  // max is honoured
  EXPECT_EQ(lens[0], 300u);
  ASSERT_EQ(fq_recv_many(q, buf.data(), buf.size(), lens, 8, &count, 0), 0);
  EXPECT_EQ(count, 1u);
  uint32_t s, seq;
  ASSERT_TRUE(check_msg(buf.data(), lens[0], s, seq));
  EXPECT_EQ(seq, 3u);
  EXPECT_EQ(fq_recv_many(q, buf.data(), buf.size(), lens, 8, &count, 0), FQ_EAGAIN);
  EXPECT_EQ(fq_recv_many(q, buf.data(), buf.size(), lens, 8, &count, 50), FQ_ETIMEDOUT);
  fq_close(q);
}

TEST(Batch, SendHonoursTheRoomAndSaysHowManyWent) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.room_msgs = 3;
  fq_queue *q = open_or_die(dir.file("q"), kRW, &o);
  ASSERT_NE(q, nullptr);
  std::vector<std::vector<uint8_t>> msgs;
  for (uint32_t i = 0; i < 10; ++i) msgs.push_back(make_msg(1, i, 64));
  std::vector<iovec> v = iovecs(msgs);
  size_t sent = 99;
  EXPECT_EQ(fq_send_many(q, v.data(), v.size(), &sent, 0), FQ_EAGAIN);
  EXPECT_EQ(sent, 3u);
  EXPECT_EQ(fq_send_many(q, v.data() + 3, 7, &sent, 100), FQ_ETIMEDOUT);
  EXPECT_EQ(sent, 0u);
  fq_stats s = FQ_STATS_INIT;
  ASSERT_EQ(fq_get_stats(q, &s), 0);
  EXPECT_EQ(s.queued_msgs, 3u);
  EXPECT_EQ(s.sent, 3u);
  if (!over_broker()) {
    EXPECT_EQ(s.unfinished, 3u);  // what did not go is not counted
  }
  fq_close(q);
}

TEST(Batch, SendStopsAtAMessageTooLarge) {
  TempDir dir;
  fq_opts o = FQ_OPTS_INIT;
  o.max_msg = 1000;
  fq_queue *q = open_or_die(dir.file("q"), kRW, &o);
  ASSERT_NE(q, nullptr);
  std::vector<std::vector<uint8_t>> msgs = {make_msg(1, 0, 100), make_msg(1, 1, 1001),
                                            make_msg(1, 2, 100)};
  std::vector<iovec> v = iovecs(msgs);
  size_t sent = 99;
  EXPECT_EQ(fq_send_many(q, v.data(), v.size(), &sent, 0), FQ_EMSGSIZE);
  EXPECT_EQ(sent, 1u);
  fq_close(q);
}

TEST(Batch, LinesGoOneByOne) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW | FQ_LINES);
  ASSERT_NE(q, nullptr);
  char a[] = "one", b[] = "two";
  const iovec v[] = {{a, 3}, {b, 3}};
  ASSERT_EQ(fq_send_many(q, v, 2, nullptr, 0), 0);
  char buf[64];
  size_t lens[4], count = 0;
  ASSERT_EQ(fq_recv_many(q, buf, sizeof buf, lens, 4, &count, 0), 0);
  ASSERT_EQ(count, 2u);
  EXPECT_EQ(std::string(buf, lens[0] + lens[1]), "onetwo");
  fq_close(q);
}

TEST(Batch, BadArguments) {
  TempDir dir;
  fq_queue *q = open_or_die(dir.file("q"), kRW);
  ASSERT_NE(q, nullptr);
  char buf[16];
  size_t lens[2], count = 7, sent = 7;
  const iovec null_data{nullptr, 4};
  EXPECT_EQ(fq_send_many(nullptr, &null_data, 1, &sent, 0), FQ_EINVAL);
  EXPECT_EQ(sent, 0u);
  EXPECT_EQ(fq_send_many(q, nullptr, 1, &sent, 0), FQ_EINVAL);
  EXPECT_EQ(fq_send_many(q, &null_data, 1, &sent, 0), FQ_EINVAL);
  EXPECT_EQ(fq_send_many(q, nullptr, 0, &sent, 0), 0);  // nothing to send
  EXPECT_EQ(fq_recv_many(nullptr, buf, sizeof buf, lens, 2, &count, 0), FQ_EINVAL);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(fq_recv_many(q, buf, sizeof buf, nullptr, 2, &count, 0), FQ_EINVAL);
  EXPECT_EQ(fq_recv_many(q, buf, sizeof buf, lens, 0, &count, 0), FQ_EINVAL);
  EXPECT_EQ(fq_recv_many(q, buf, sizeof buf, lens, 2, nullptr, 0), FQ_EINVAL);
  EXPECT_EQ(fq_recv_many(q, nullptr, 8, lens, 2, &count, 0), FQ_EINVAL);
  fq_close(q);
}

}  // namespace
