// The decoder the matcher is handed (rules/matcher.h, Matcher::build) for
// captures named `rc`: the TPM 2.0 decoding of kb/rc.h plus the ESXi context
// of kb/rc_context.json, as a typed DecodedRc on the Fact.
//
//   auto m = Matcher::build(std::move(rules), rc::fact_decoder());
#pragma once

#include "rules/fact.h"

namespace tpmdiag::rc {

RcDecoder fact_decoder();

}  // namespace tpmdiag::rc
