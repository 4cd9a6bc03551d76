#include "kb/rc_fact.h"

#include "common/embedded.h"
#include "kb/rc.h"

namespace tpmdiag::rc {

namespace {

// ESXi context for response codes (kb/rc_context.json), loaded once.
const std::vector<Context>& contexts() {
  static const std::vector<Context> all = [] {
    auto ctx = load_context(find_embedded("kb/rc_context.json"));
    return ctx ? *ctx : std::vector<Context>{};
  }();
  return all;
}

std::optional<DecodedRc> decode_capture(std::string_view text, std::string_view command) {
  std::optional<uint32_t> code;
  if (auto number = parse_code(text)) code = *number;
  else code = code_from_name(text);  // "failed with TPM_RC_LOCKOUT"
  if (!code) return std::nullopt;
  Decoded d = decode(*code);
  DecodedRc out;
  out.code = d.raw;
  out.hex = format_code(d.raw);
  out.name = d.name;
  out.kind = std::string(kind_name(d.kind));
  out.index = d.index;
  out.layer = d.layer_name;
  out.description = d.description;
  for (const Context* c : find_context(contexts(), *code, command))
    out.context += (out.context.empty() ? "" : " | ") + c->context;
  return out;
}

}  // namespace

RcDecoder fact_decoder() { return decode_capture; }

}  // namespace tpmdiag::rc
