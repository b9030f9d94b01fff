// Writes the seed corpora into the directory given (tests/fuzz/corpus):
//  frame/  for frame_fuzz: valid frames of each kind, lines, garbage, headers
//          that are well checksummed but wrong (a fuzzer cannot forge a CRC
//          easily), truncations, recovery after a lost read;
//  line/   for line_text_fuzz: text and each way UTF-8 can be malformed.
// Run once; the files are committed. Crashes found later sit beside them.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "crc32c.hpp"
#include "dead_log.hpp"
#include "envelope.hpp"
#include "frame.hpp"

namespace {

using Bytes = std::vector<uint8_t>;

Bytes str(const std::string &s) { return Bytes(s.begin(), s.end()); }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto &p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A frame with any header fields, the header CRC always right.
Bytes frame(uint8_t kind, uint8_t flags, uint32_t claimed_len, const Bytes &body) {
  Bytes f(fq::kHeaderSize);
  fq::encode_header(f.data(), static_cast<fq::FrameKind>(kind), flags, claimed_len,
                    fq::crc32c(0, body.data(), body.size()));
  return cat({f, body});
}

Bytes inline_frame(const std::string &body) {
  return frame(uint8_t(fq::FrameKind::inline_msg), fq::kFlagCounted, uint32_t(body.size()),
               str(body));
}

Bytes shm_frame() {
  Bytes body(fq::kShmRefSize);
  fq::encode_shm_ref(body.data(), fq::ShmRef{1u << 20, 1234, 99});
  return frame(uint8_t(fq::FrameKind::shm_ref), fq::kFlagCounted, fq::kShmRefSize, body);
}

Bytes slot_frame() {
  Bytes body(fq::kSlotRefSize);
  fq::encode_slot_ref(body.data(), fq::SlotRef{30000, 7, 3});
  return frame(uint8_t(fq::FrameKind::slot_ref), fq::kFlagCounted, fq::kSlotRefSize, body);
}

bool write(const std::string &path, const Bytes &b) {
  FILE *f = std::fopen(path.c_str(), "wb");
  bool ok = f && std::fwrite(b.data(), 1, b.size(), f) == b.size();
  if (f) ok = std::fclose(f) == 0 && ok;
  if (!ok) std::perror(path.c_str());
  return ok;
}

// The frame with both checksums zeroed: for frame_fuzz to mend (kMend).
Bytes unsummed(Bytes f) {
  std::fill(f.begin() + 8, f.begin() + fq::kHeaderSize, 0);
  return f;
}

// frame_fuzz's first byte: 0 in sync, 3 recovery just started, 1 recovery
// about to end (resync 1); kMend added: checksums mended first.
constexpr uint8_t kInSync = 0, kResyncing = 3, kResyncEnding = 1, kMend = 0x80;

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds tests/fuzz/corpus\n");
    return 2;
  }
  const std::string d = argv[1];
  bool ok = true;
  auto seed = [&](const std::string &name, uint8_t mode, const Bytes &b) {
    ok = write(d + "/frame/" + name, cat({{mode}, b})) && ok;
  };
  const uint8_t in = uint8_t(fq::FrameKind::inline_msg);
  const Bytes hello = inline_frame("hello");
  seed("empty", kInSync, {});  // the mode byte alone: an empty stream
  seed("inline", kInSync, hello);
  seed("inline-empty", kInSync, inline_frame(""));
  seed("inline-max", kInSync, inline_frame(std::string(fq::kMaxInline, 'm')));
  seed("shm-ref", kInSync, shm_frame());
  seed("slot-ref", kInSync, slot_frame());
  seed("lines", kInSync, str("job 1\nh\xc3\xa9llo\r\n\n"));
  seed("mixed", kInSync,
       cat({str("echo\n"), hello, shm_frame(), str("\tx\n"), slot_frame(), str("tail\n")}));
  seed("torn-line", kInSync, cat({str("no newline"), hello}));
  seed("truncated-header", kInSync, Bytes(hello.begin(), hello.begin() + 9));
  seed("truncated-body", kInSync, Bytes(hello.begin(), hello.end() - 1));
  Bytes huge = hello;  // a length past any frame, header CRC then wrong too
  huge[4] = huge[5] = huge[6] = huge[7] = 0xFF;
  seed("huge-length", kInSync, huge);
  seed("huge-length-good-crc", kInSync, frame(in, 0, 0xFFFFFFFFu, str("hello")));
  seed("length-past-inline", kInSync, frame(in, 0, fq::kMaxInline + 1, str("hello")));
  seed("shm-ref-wrong-size", kInSync,
       frame(uint8_t(fq::FrameKind::shm_ref), 0, fq::kSlotRefSize, Bytes(fq::kSlotRefSize)));
  seed("slot-ref-wrong-size", kInSync,
       frame(uint8_t(fq::FrameKind::slot_ref), 0, fq::kShmRefSize, Bytes(fq::kShmRefSize)));
  seed("unknown-kind", kInSync, frame(9, 0, 5, str("hello")));
  seed("unknown-flags", kInSync, frame(in, 0x80, 5, str("hello")));
  Bytes bad_body = hello;
  bad_body.back() ^= 1;
  seed("bad-body-crc", kInSync, cat({bad_body, hello}));
  seed("binary-line", kInSync, str(std::string("a\0b\n", 4)));
  // Frames with an envelope: a dead letter inline, and one pointing at a slot.
  fq::Envelope env;
  env.attempts = 3;
  env.deaths = 1;
  env.origin = "/srv/jobs.fifo";
  env.reason = "timeout";
  Bytes eb(env.size());
  env.encode(eb.data());
  const uint8_t with_env = fq::kFlagCounted | fq::kFlagEnvelope;
  const Bytes inline_body = cat({eb, str("payload")});
  seed("envelope-inline", kInSync, frame(in, with_env, uint32_t(inline_body.size()), inline_body));
  Bytes slot_ref(fq::kSlotRefSize);
  fq::encode_slot_ref(slot_ref.data(), fq::SlotRef{9000, 7, 2});
  const Bytes slot_body = cat({eb, slot_ref});
  seed("envelope-slot", kInSync,
       frame(uint8_t(fq::FrameKind::slot_ref), with_env, uint32_t(slot_body.size()), slot_body));
  Bytes short_env = inline_body;
  short_env[0] = 10;  // claims an envelope smaller than its fixed part
  seed("envelope-too-short", kInSync, frame(in, with_env, uint32_t(short_env.size()), short_env));
  seed("invalid-utf8-line", kInSync, str("caf\xc3\n\xed\xa0\x80\nok\n"));
  seed("resync-fragment", kResyncing, cat({str("llo\nworld\n"), hello}));
  seed("resync-long", kResyncing, cat({Bytes(5000, 'x'), str("\nline\n")}));
  seed("resync-ending", kResyncEnding, str("tail of a frame\nline\n"));
  seed("resync-partial-header", kResyncing,
       cat({str("xx"), Bytes(hello.begin(), hello.begin() + 10)}));
  seed("resync-truncated-frame", kResyncing, Bytes(hello.begin(), hello.end() - 2));
  seed("mend-frames", kMend,
       cat({unsummed(hello), unsummed(slot_frame()), str("x\n"), unsummed(shm_frame()),
            unsummed(frame(9, 1, 3, str("abc")))}));
  seed("mend-resync", kMend | kResyncing, cat({str("lo\n"), unsummed(hello)}));
  seed("resync-bad-header", kResyncing, cat({huge, hello}));

  auto line = [&](const std::string &name, const std::string &b) {
    ok = write(d + "/line/" + name, str(b)) && ok;
  };
  line("ascii", "job 1 done");
  line("tab-cr", "a\tb\r");
  line("utf8", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x99\x82");
  line("max-code-point", "\xf4\x8f\xbf\xbf");
  line("nul", std::string("a\0b", 3));
  line("newline", "a\nb");
  line("del", "a\x7f");
  line("frame-magic", "\xfe\x71");
  line("lone-continuation", "a\x80");
  line("overlong", "\xc0\x80\xe0\x80\x80");
  line("surrogate", "\xed\xa0\x80");
  line("past-max", "\xf4\x90\x80\x80");
  line("truncated", "\xe2\x82");

  // Dead logs: two good records, then the same with the second torn.
  const std::string two = d + "/dead_log/two-records";
  std::remove(two.c_str());
  fq::Envelope dead;
  dead.attempts = 3;
  dead.deaths = 1;
  dead.origin = "/srv/jobs.fifo";
  dead.reason = "HTTP 503";
  ok = fq::dead_log_append(two, 0644, dead, "first", 5) == fq::Errc::ok && ok;
  dead.flags = fq::Envelope::kPermanent;
  ok = fq::dead_log_append(two, 0644, dead, "second", 6) == fq::Errc::ok && ok;
  if (FILE *f = std::fopen(two.c_str(), "rb")) {
    Bytes all(4096);
    all.resize(std::fread(all.data(), 1, all.size(), f));
    std::fclose(f);
    ok = write(d + "/dead_log/torn-second", Bytes(all.begin(), all.end() - 3)) && ok;
  }
  return ok ? 0 : 1;
}
