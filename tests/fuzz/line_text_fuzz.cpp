// libFuzzer target for fq::is_line_text, against a reference written from the
// table of well-formed UTF-8 byte sequences (the Unicode Standard, table 3-7) rather than
// by decoding code points as frame.cpp does. Both reject C0 controls except
// tab and carriage return.
#include <cstddef>
#include <cstdint>

#include "frame.hpp"
#include "fuzz_check.hpp"

namespace {

struct Range {
  uint8_t lo, hi;
};

// One row of table 3-7: the lead byte range and the ranges of what follows.
struct Form {
  Range lead;
  int trail;  // 0 to 3
  Range next[3];
};

constexpr Range kCont{0x80, 0xBF};
constexpr Form kForms[] = {
    {{0x00, 0x7F}, 0, {}},
    {{0xC2, 0xDF}, 1, {kCont}},
    {{0xE0, 0xE0}, 2, {{0xA0, 0xBF}, kCont}},
    {{0xE1, 0xEC}, 2, {kCont, kCont}},
    {{0xED, 0xED}, 2, {{0x80, 0x9F}, kCont}},  // no surrogates
    {{0xEE, 0xEF}, 2, {kCont, kCont}},
    {{0xF0, 0xF0}, 3, {{0x90, 0xBF}, kCont, kCont}},
    {{0xF1, 0xF3}, 3, {kCont, kCont, kCont}},
    {{0xF4, 0xF4}, 3, {{0x80, 0x8F}, kCont, kCont}},  // nothing past U+10FFFF
};

bool in(uint8_t b, Range r) { return b >= r.lo && b <= r.hi; }

bool reference_line_text(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\r') return false;
    const Form *form = nullptr;
    for (const Form &f : kForms)
      if (in(p[i], f.lead)) form = &f;
    if (!form || n - i - 1 < size_t(form->trail)) return false;
    for (int k = 0; k < form->trail; ++k)
      if (!in(p[i + 1 + k], form->next[k])) return false;
    i += 1 + form->trail;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FUZZ_CHECK(fq::is_line_text(data, size) == reference_line_text(data, size));
  // Text stays text when cut at a character boundary, and never holds the
  // bytes that make a frame or end a line.
  if (fq::is_line_text(data, size)) {
    for (size_t i = 0; i < size; ++i) FUZZ_CHECK(data[i] != fq::kMagic0 && data[i] != '\n');
    size_t cut = size / 2;
    while (cut > 0 && (data[cut] & 0xC0) == 0x80) --cut;
    FUZZ_CHECK(fq::is_line_text(data, cut) && fq::is_line_text(data + cut, size - cut));
  }
  return 0;
}
