// Rules: the data that turns log lines into facts (DESIGN.md §4).
//
// A rule file (rules/<family>.json) holds one family of rules:
//
//   {"family": "hostd-tpm2cmd",
//    "rules": [{
//      "id": "hostd.createprimary_failed",            unique, [a-z0-9_.-]
//      "title": "TPM2_CreatePrimary failed",
//      "source": ["hostd"],                           log kinds (parsers/event.h); pasted
//                                                     lines of unknown kind always qualify
//      "pattern": "Tpm2Cmd: CreatePrimary: \\((?P<rc>0x[0-9a-fA-F]+)\\)",   RE2, searched in
//                                                     the message; a capture named rc is
//                                                     decoded as a TPM response code
//      "literals": ["CreatePrimary"],                 only when the pattern has no literal of
//                                                     4+ chars the prefilter can use; a line the
//                                                     rule matches holds at least one of them
//      "fact": "createprimary_failed",                what kb/ causes reason on
//      "severity": "error",                           info|notice|warning|error|critical
//      "role": "symptom",                             symptom|context|benign|success
//      "when":   {"rc_name": "TPM_RC_HANDLE"},        optional: the rule fires only if these
//                                                     captured/decoded fields match (any listed
//                                                     value, case-insensitive)
//      "unless": {"command": "NV_ReadPublic", "rc_name": "TPM_RC_HANDLE"},
//                                                     optional: not if ALL these fields match
//      "window": "boot",                              optional: the line opens a new boot
//                                                     ("boot") or service ("service") window
//      "fallback": true,                              optional: fires only on a line no other
//                                                     rule matched, when the lexicon reads it as
//                                                     TPM + failure (rules/lexicon.h); its pattern
//                                                     then applies only to pasted lines of no known
//                                                     log shape (say what makes them a log message)
//      "meaning": "what the line means, in our words",
//      "samples": {"match": [{"line": "...", "captures": {"rc": "0x9a2"}}],
//                  "nomatch": ["..."]}
//    }]}
//
// load_rules() checks every field and names the file, rule and field of the
// first mistake; `tpmdiag rules test` then runs every sample.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/data_files.h"
#include "common/error.h"
#include "parsers/event.h"

namespace tpmdiag {

struct Fact;

enum class RuleRole : uint8_t { symptom, context, benign, success };
enum class WindowMark : uint8_t { none, boot, service };

std::string_view role_name(RuleRole r);

struct RuleSample {
  std::string line;
  std::map<std::string, std::string> captures;  // expected values of named captures

  bool operator==(const RuleSample&) const = default;
};

struct Rule {
  std::string id;
  std::string title;
  std::string file;                 // where it was loaded from, for messages
  std::vector<SourceKind> sources;  // empty = any
  std::string pattern;
  std::vector<std::string> literals;
  std::string fact;
  Severity severity = Severity::info;
  RuleRole role = RuleRole::symptom;
  WindowMark window = WindowMark::none;
  // Fires only on a line that no other rule matched and that the lexicon
  // (rules/lexicon.h) reads as about the TPM and a failure; its literals,
  // when it lists none, are the lexicon's TPM terms.
  bool fallback = false;
  std::string meaning;
  std::map<std::string, std::vector<std::string>> when, unless;
  std::vector<RuleSample> match_samples;
  std::vector<std::string> nomatch_samples;

  // Every field (the rule cache's tests compare what it returns with load_rules()'s).
  bool operator==(const Rule&) const = default;

  bool applies_to(SourceKind k) const;
  // Checks when/unless against the fields of a match (Fact::value).
  bool accepts(const Fact& f) const;
};

// Parses rule files; later files override earlier rules with the same id.
Result<std::vector<Rule>> load_rules(const std::vector<DataFile>& files);

}  // namespace tpmdiag
