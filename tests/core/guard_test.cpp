// The shims' one guard turns escaping exceptions into codes, never into 0.
#include "guard.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

namespace fq {
namespace {

TEST(Guard, BadAllocBecomesNomem) {
  EXPECT_EQ(guarded([]() -> Errc { throw std::bad_alloc(); }), static_cast<int>(Errc::NOMEM));
}

TEST(Guard, AnyOtherExceptionBecomesInternal) {
  EXPECT_EQ(guarded([]() -> Errc { throw std::runtime_error("bug"); }),
            static_cast<int>(Errc::INTERNAL));
  EXPECT_EQ(guarded([]() -> Errc { throw 42; }), static_cast<int>(Errc::INTERNAL));
}

TEST(Guard, CodesPassThrough) {
  EXPECT_EQ(guarded([] { return Errc::ok; }), 0);
  EXPECT_EQ(guarded([] { return Errc::TIMEDOUT; }), static_cast<int>(Errc::TIMEDOUT));
}

TEST(Errc, EveryCodeHasItsOwnText) {
  std::set<std::string> texts;
  size_t codes = 0;
#define FQ_ERR(name, value, cls, text) (texts.insert(errc_text(value)), ++codes);
#include "errors.def"
#undef FQ_ERR
  EXPECT_GE(codes, size_t(18));
  EXPECT_EQ(texts.size(), codes);
  EXPECT_STREQ(errc_text(12345), "unknown fq error code");
}

}  // namespace
}  // namespace fq
