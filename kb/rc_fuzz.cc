// libFuzzer target: the TPM response-code parser and decoder (kb/rc.h), and
// the rc_context.json loader.
//
// Checked properties:
//   * parse_code never crashes; an error is one line;
//   * a parsed value round-trips: parse_code(format_code(v)) == v;
//   * decode(v) has a non-empty description and raw == v; location() and
//     kind_name() work on it;
//   * decode() of the first 4 bytes as a raw value (covers all layers);
//   * load_context on the text never crashes; errors are one line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "kb/rc.h"

using namespace tpmdiag;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void decode_checks(uint32_t v) {
  rc::Decoded d = rc::decode(v);
  check(d.raw == v);
  check(!d.description.empty());
  check(d.layer == static_cast<uint8_t>((v >> 16) & 0xff));
  (void)rc::location(d);
  (void)rc::kind_name(d.kind);
  (void)rc::layer_name(d.layer);
  auto back = rc::parse_code(rc::format_code(v));
  check(back.ok() && *back == v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto code = rc::parse_code(text);
  if (code) {
    decode_checks(*code);
  } else {
    check(code.error().message.find('\n') == std::string::npos);
  }
  if (size >= 4) {
    uint32_t raw;
    std::memcpy(&raw, data, 4);
    decode_checks(raw);
  }
  auto ctx = rc::load_context(text, "fuzz/rc_context.json");
  if (ctx) {
    for (const auto& c : *ctx) (void)rc::find_context(*ctx, c.code, c.command);
    if (size >= 4) (void)rc::find_context(*ctx, static_cast<uint32_t>(size), "CreatePrimary");
  } else {
    check(ctx.error().message.find('\n') == std::string::npos);
  }
  return 0;
}
