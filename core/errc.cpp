#include "errc.hpp"

namespace fq {

const char *errc_text(int code) noexcept {
  switch (code) {
    case 0:
      return "success";
#define FQ_ERR(name, value, cls, text) \
  case value:                          \
    return text;
#include "errors.def"
#undef FQ_ERR
  }
  return "unknown fq error code";
}

}  // namespace fq
