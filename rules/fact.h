// Fact: what one rule found on one log line, the value that every stage
// above the matcher works on (kb/ scores facts, pipeline/ collects them, the
// renderers show them). It owns its text, so it outlives the line buffer.
//
//   f.rule->fact            // "createprimary_failed": what causes reason on
//   f.field("command")      // a named capture of the rule's pattern
//   f.rc->name              // "TPM_RC_BAD_AUTH": the decoded `rc` capture, if any
//   f.value("rc_name")      // the same, as rule and cause conditions name it
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parsers/event.h"
#include "rules/rule.h"

namespace tpmdiag {

// A TPM response code captured by a rule (a capture named `rc`), decoded.
// Decoding is the knowledge base's (kb/rc.h); the matcher is handed a
// decoder (RcDecoder) and stores what it returns.
struct DecodedRc {
  uint32_t code = 0;
  std::string hex;          // the code as the decoder writes it: "0x921"
  std::string name;         // TCG name, "" if unassigned: "TPM_RC_BAD_AUTH"
  std::string kind;         // "error", "warning", "session", ... (kb/rc.h kind_name)
  unsigned index = 0;       // handle/session/parameter number, 0 when none
  std::string layer;        // "tpm", "rmt", "sys", ...
  std::string description;  // plain words, never empty
  std::string context;      // ESXi context for this code and command, " | "-joined; may be empty
};

// Decodes the text of an `rc` capture ("0x9a2") for a command ("CreatePrimary",
// may be empty); nullopt when the text is no code.
using RcDecoder = std::function<std::optional<DecodedRc>(std::string_view text, std::string_view command)>;

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Fact {
  const Rule* rule = nullptr;
  std::string input;
  uint64_t line = 0;
  uint32_t input_seq = 0;       // order of the input in the run (for timelines)
  std::string host;
  std::optional<int64_t> ts_ms;
  std::string ts_text;
  SourceKind kind = SourceKind::unknown;
  Severity severity = Severity::none;
  std::string text;             // the raw line (capped)
  Fields fields;                // the rule's named captures
  // The `rc` capture decoded. Shared, not inline: it is rare, and a Fact is
  // moved and copied many times on its way (the decoded code is never changed).
  std::shared_ptr<const DecodedRc> rc;
  // Later lines identical to this one (same rule and fields, same window of
  // the same input) that were counted here instead of kept (pipeline/scanner.h).
  uint64_t repeats = 0;
  uint64_t last_line = 0;      // the last of them
  std::optional<int64_t> last_ts_ms;
  std::string last_ts_text;

  // A named capture, or empty.
  std::string_view field(std::string_view name) const;
  // A capture, or a part of the decoded code as conditions name it (rc_name,
  // rc_kind, rc_index, rc_layer, rc_description, rc_context); "" if absent.
  std::string value(std::string_view name) const;
  // The captures followed by the decoded code's parts, in that order: the
  // fields as the rule language sees them.
  Fields all_fields() const;
};

}  // namespace tpmdiag
