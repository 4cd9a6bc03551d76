// Causes: the knowledge base (DESIGN.md §4), one JSON file per cause in kb/causes/.
//
//   {"id": "tpm_da_lockout",                       stable taxonomy id (public output)
//    "title": "TPM is in dictionary-attack lockout",
//    "summary": "one sentence for lists",
//    "meaning": "what is wrong, in our words",
//    "evidence": {
//      "prior": 0.3,                               how common among causes sharing a symptom
//      "trigger":    [CONDITION...],               at least one must hold for the cause to be considered
//      "support":    [CONDITION...],               raise confidence once triggered
//      "contradict": [CONDITION...]                lower it (weight = how strongly)
//    },
//    "resolved_by": [CONDITION...],                a later window with one of these = resolved
//    "check": "how to confirm it / tell it apart from the alternatives",
//    "fix": ["step", {"text": "Ask {vendor_name} ...", "else": "Ask the module's vendor ..."}],
//    "vendor_notes": [{"vendor": "Dell", "note": "...", "source": "https://..."}],
//    "references": [{"url": "https://...", "title": "...", "note": "..."}],
//    "inference": ["statements above that are our reasoning, not a source's"]}
//
// CONDITION: {"fact": "createprimary_failed", "where": {"rc_name": "TPM_RC_BAD_AUTH"}, "weight": 0.5}
//            or {"all": [CONDITION, ...], "weight": 0.8}   (weight ignored inside "all")
// `where` values are strings or lists of strings (any of), compared case-insensitively.
// Confidence = 1 - Π(1 - w) over the trigger and support conditions that hold,
// times Π(1 - w) over the contradict conditions that hold.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "rules/rule.h"

namespace tpmdiag {

struct Condition {
  std::string fact;                                      // empty for an "all" group
  std::map<std::string, std::vector<std::string>> where;
  std::vector<Condition> all;
  double weight = 0.5;
  // A trigger that contradictions do not weaken: when it holds, the cause's
  // confidence is at least its weight (lines no rule explains must show).
  bool firm = false;
};

struct FixStep {
  std::string text;       // may hold {field} placeholders
  std::string otherwise;  // used when a placeholder has no value ("else")
};

struct VendorNote {
  std::string vendor, note, source;
};

struct Reference {
  std::string url, title, note;
};

struct Cause {
  std::string id, title, summary, meaning, check, file;
  double prior = 0.5;
  std::vector<Condition> trigger, support, contradict, resolved_by;
  std::vector<FixStep> fix;
  std::vector<VendorNote> vendor_notes;
  std::vector<Reference> references;
  std::vector<std::string> inference;
};

// Parses cause files; a later file with the same id replaces the earlier one.
// `known_facts` (from the rules) catches conditions naming a fact no rule emits.
Result<std::vector<Cause>> load_causes(const std::vector<DataFile>& files,
                                       const std::vector<std::string>& known_facts);

}  // namespace tpmdiag
