// TPM 2.0 response-code decoder, plus ESXi context for the codes hostd prints.
//
// hostd logs raw TPM response codes, often without a name:
//
//   NV_ReadPublic: (0x18b) Unknown
//   CreatePrimary: (0x9a2) Unknown
//   DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT
//
// decode() turns such a value into its parts (TPM 2.0 Library Part 2, 6.6):
//
//   auto code = rc::parse_code("(0x9a2)");          // Result<uint32_t>
//   if (!code) { std::cerr << code.error().message << '\n'; return 2; }
//   rc::Decoded d = rc::decode(*code);
//   // d.name == "TPM_RC_BAD_AUTH", d.kind == Kind::session, d.index == 1,
//   // d.description == "authorization failure without DA implications"
//
//   rc::decode(0x000b0921).layer_name  == "rmt"   // resource manager's copy
//   rc::decode(0x0008000b).name == "TSS2_SYS_RC_BAD_VALUE"   // TSS, not TPM
//
// Layout of a 32-bit code, as tpm2-tss reads it (tss2_rc.c):
//   bits 16..23  layer: 0 tpm, 6 fapi, 7 esapi, 8 sys, 9 mu, 10 tcti,
//                11 rmt (TPM codes relayed by a resource manager), 12 rm,
//                13 policy; other layers have no name and print as a number.
//   bit 7        format: 1 = format one, 0 = format zero (TPM layers only).
//   format one   bits 0..5 error number, bit 6 P (parameter), bits 8..11 N:
//                P=1: parameter N (1..15); P=0, N<8: handle N; N>=8: session N-8.
//   format zero  bits 0..6 error number, bit 8 V (clear: TPM 1.2 code),
//                bit 10 T (vendor-defined), bit 11 S (warning).
//
// Where this decoder and tpm2_rc_decode differ on purpose: for parameters 8..15
// tpm2-tss keeps only the low 3 bits of N (0x9c4 prints "parameter(1)"); the
// spec's TPM_RC_8..TPM_RC_F adders make it parameter 9, and so do we.
//
// ESXi context (kb/rc_context.json) is data, loaded with load_context() and
// looked up with find_context():
//
//   auto ctx = rc::load_context(tpmdiag::find_embedded("kb/rc_context.json"));
//   if (ctx)
//     for (const rc::Context* c : rc::find_context(*ctx, 0x9a2, "CreatePrimary"))
//       std::cout << c->context << " (cause " << c->cause << ")\n";
//
// Nothing here throws except on allocation failure; all functions are
// thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tpmdiag::rc {

enum class Kind {
  success,    // the value 0 (in any layer)
  error,      // TPM 2.0 format-zero error (V set, S clear)
  warning,    // TPM 2.0 format-zero warning (V and S set)
  handle,     // format one, about handle `index` (0: no handle named)
  session,    // format one, about session `index` (0: no session named)
  parameter,  // format one, about parameter `index` (0: no parameter named)
  vendor,     // format zero with V and T set: the TPM maker's own code
  tpm12,      // format zero with V clear: a TPM 1.2 result code
  tss,        // a TSS software layer (fapi, esapi, sys, mu, tcti, rm, ...)
};

// "success", "error", "warning", "handle", "session", "parameter", "vendor",
// "tpm12", "tss". These strings are part of the JSON output; keep them stable.
std::string_view kind_name(Kind kind);

struct Decoded {
  uint32_t raw = 0;          // full 32-bit value
  uint8_t layer = 0;         // bits 16..23
  std::string layer_name;    // "tpm", "sys", "rmt", ... or the number as text
  int format = 0;            // 0 or 1 (format of the low 12 bits); 0 for TSS layers
  std::string name;          // TCG name, e.g. "TPM_RC_BAD_AUTH", "TPM_DISABLED"
                             // (TPM 1.2), "TSS2_SYS_RC_BAD_VALUE"; "" if none
  Kind kind = Kind::error;
  unsigned index = 0;        // handle/session/parameter number, 0 when none
  std::string description;   // plain words, never empty
};

// Decodes any 32-bit value; never fails. Unassigned numbers get an empty name
// and a description that says so. Layers 0 (tpm) and 11 (rmt) are decoded as
// TPM codes from bits 0..11; other layers as TSS codes.
Decoded decode(uint32_t code);

// The layer's tpm2-tss name ("tpm", "esapi", "rmt", ...), or its decimal number.
std::string layer_name(uint8_t layer);

// How decode() shows a code: "0x9a2" (at least 3 hex digits) when it fits in
// 16 bits, "0x000b0921" (8 digits) when a layer is set.
std::string format_code(uint32_t code);

// Short "where" text for output: "session 1", "handle", "parameter 9",
// "warning", "error", "vendor", "tpm12", "tss", "success".
std::string location(const Decoded& d);

// Accepts "0x9a2", "0X9A2", "2466", "(0x9a2)", with spaces around (and inside
// the parentheses). Digits without 0x are decimal (no octal). Rejects empty
// text, anything else, and values above 0xffffffff. The error is one line:
//   invalid TPM response code 'zzz': not a number
tpmdiag::Result<uint32_t> parse_code(std::string_view text);

// The code a TCG name stands for, ignoring letter case: "TPM_RC_LOCKOUT" ->
// 0x921, "TPM_RC_BAD_AUTH" -> 0x0a2 (a format-one name: its base value, no
// handle, session or parameter), "TPM2_RC_RETRY" -> 0x922. Nullopt for
// anything else (TPM 1.2 and TSS names are not looked up).
std::optional<uint32_t> code_from_name(std::string_view name);

// One line of ESXi knowledge about a code, from kb/rc_context.json.
struct Context {
  uint32_t code = 0;
  std::string command;    // TPM command it applies to ("CreatePrimary"); "" = any
  std::string context;    // one line, our words
  std::string cause;      // kb cause id (DESIGN.md §4), "" if none
  std::string source;     // public URL the fact comes from
  bool inference = false; // true when the context is our reasoning, not the source's
};

// Parses the rc_context.json schema:
//   {"codes": [{"code": "0x921", "command": "...", "context": "...",
//               "cause": "tpm_da_lockout", "source": "https://...",
//               "inference": false}, ...]}
// "command" and "cause" are optional; a root "about" string is allowed.
// Unknown fields are errors, so typos do not pass silently. On failure the
// message is one line naming origin, entry and field, e.g.
//   kb/rc_context.json: codes[2]: field 'source': missing
tpmdiag::Result<std::vector<Context>> load_context(
    std::string_view json_text, std::string_view origin = "kb/rc_context.json");

// Entries that apply to `code`: same value, or an entry for a plain TPM code
// (layer 0) when `code` is the same code relayed in layer 11 (rmt). Entries
// for a command apply when `command` is empty or equal (ignoring case); those
// for the given command come first. Pointers are into `all`.
std::vector<const Context*> find_context(const std::vector<Context>& all, uint32_t code,
                                         std::string_view command = {});

}  // namespace tpmdiag::rc
