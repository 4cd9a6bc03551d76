// Rule self-tests (`tpmdiag rules test`): every sample line of every rule runs
// through the real pipeline — format detection, literal prefilter, matching —
// and must (or must not) produce that rule's fact with the expected captures.
// Format samples (parsers/formats/*.json) are checked too.
#pragma once

#include <string>
#include <vector>

#include "parsers/format.h"
#include "rules/matcher.h"

namespace tpmdiag {

struct SelfTestResult {
  size_t passed = 0;
  std::vector<std::string> failures;  // one line each: file: rule 'id': what went wrong
};

SelfTestResult test_rules(const Matcher& matcher, const FormatSet& formats);

}  // namespace tpmdiag
