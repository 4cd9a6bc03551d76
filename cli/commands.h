// Subcommands of the tpmdiag binary. Each takes the arguments after its name
// and returns the process exit code (DESIGN.md §5: 0 no TPM problem, 1 problem
// found, 2 usage or input error). Results go to stdout, diagnostics to stderr.
#pragma once

#include <string>
#include <vector>

namespace tpmdiag::cli {

using Args = std::vector<std::string>;

int cmd_diagnose(const Args& args);
int cmd_explain(const Args& args);
int cmd_rc(const Args& args);
int cmd_rules(const Args& args);
int cmd_kb(const Args& args);

}  // namespace tpmdiag::cli
