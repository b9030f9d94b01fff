#include "slot_arena.hpp"

#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <vector>

namespace fq {
namespace {

struct Arena {
  uint64_t token = 0;
  SlotArena a;
  Arena() {
    EXPECT_EQ(getrandom(&token, sizeof token, 0), ssize_t(sizeof token));
    EXPECT_EQ(a.open(token, true, 0600), Errc::ok);
    a.reset({});
  }
  ~Arena() { ::unlink(SlotArena::path(token).c_str()); }
};

bool put_bytes(SlotArena &a, uint8_t fill, size_t n, SlotRef &ref) {
  std::vector<uint8_t> m(n, fill);
  iovec v{m.data(), m.size()};
  return a.put(uint32_t(::getpid()), &v, 1, n, ref);
}

TEST(SlotArena, PutClaimTakeRoundTrip) {
  Arena t;
  SlotRef ref;
  ASSERT_TRUE(put_bytes(t.a, 0x5A, 40000, ref));
  EXPECT_EQ(ref.len, 40000u);
  ASSERT_TRUE(t.a.claim(ref, 1));
  EXPECT_FALSE(t.a.claim(ref, 1)) << "claimed twice";
  std::vector<uint8_t> out(40000);
  t.a.take(ref, out.data());
  EXPECT_EQ(out.front(), 0x5A);
  EXPECT_EQ(out.back(), 0x5A);
  EXPECT_FALSE(t.a.claim(ref, 1)) << "a freed slot was claimed by an old reference";
}

TEST(SlotArena, FullArenaSaysSoAndFreesReclaim) {
  Arena t;
  std::vector<SlotRef> refs(SlotArena::kSlots);
  for (auto &r : refs) ASSERT_TRUE(put_bytes(t.a, 1, 5000, r));
  SlotRef extra;
  EXPECT_FALSE(put_bytes(t.a, 1, 5000, extra));
  t.a.unput(refs[7]);
  ASSERT_TRUE(put_bytes(t.a, 2, 5000, extra));
  EXPECT_EQ(extra.index, 7u);
  EXPECT_NE(extra.gen, refs[7].gen);
}

// A receiver killed while it holds a claimed slot: the slot comes back when a
// sender needs one.
TEST(SlotArena, SlotsOfDeadProcessesAreReclaimed) {
  Arena t;
  std::vector<SlotRef> refs(SlotArena::kSlots);
  for (auto &r : refs) ASSERT_TRUE(put_bytes(t.a, 1, 5000, r));
  const pid_t child = ::fork();
  if (child == 0) {
    SlotArena mine;
    if (mine.open(t.token, false, 0) != Errc::ok) ::_exit(1);
    ::_exit(mine.claim(refs[3], uint32_t(::getpid())) ? 0 : 2);  // dies holding it
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  SlotRef extra;
  ASSERT_TRUE(put_bytes(t.a, 3, 5000, extra));
  EXPECT_EQ(extra.index, 3u);
}

TEST(SlotArena, ResetKeepsOnlyStagedReadySlots) {
  Arena t;
  SlotRef a, b;
  ASSERT_TRUE(put_bytes(t.a, 1, 5000, a));
  ASSERT_TRUE(put_bytes(t.a, 2, 5000, b));
  t.a.reset({{b.index, b.gen}});
  EXPECT_FALSE(t.a.claim(a, 1));
  EXPECT_TRUE(t.a.claim(b, 1));
}

}  // namespace
}  // namespace fq
