// fq::Errc: the error codes of core/errors.def, shared by every layer.
#pragma once

namespace fq {

enum class Errc : int {
  ok = 0,
#define FQ_ERR(name, value, cls, text) name = value,
#include "errors.def"
#undef FQ_ERR
};

// The text of a code; a fixed string for values outside the table, never null.
const char *errc_text(int code) noexcept;

}  // namespace fq
