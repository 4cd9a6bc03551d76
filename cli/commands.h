// Subcommands of the tpmdiag binary. Each lives in its own cli/cmd_*.cc and
// registers itself, so adding a command touches no other file:
//
//   int cmd_rc(const Args& args);
//   TPMDIAG_COMMAND("rc", "CODE...", "decode TPM 2.0 response codes: 0x9a2, 2466, (0x921)", cmd_rc, 30)
//
// A command takes the arguments after its name and returns the process exit
// code (DESIGN.md §5: 0 no TPM problem, 1 problem found, 2 usage or input
// error). Results go to stdout, diagnostics and progress to stderr.
#pragma once

#include <string>
#include <vector>

namespace tpmdiag::cli {

using Args = std::vector<std::string>;
using CommandFn = int (*)(const Args&);

struct Command {
  const char* name;
  const char* usage;    // arguments, for the help list
  const char* summary;  // one line
  CommandFn run;
  int order;            // position in `tpmdiag --help`
};

bool register_command(const Command& c);
// Registered commands, sorted by order.
std::vector<Command> commands();

}  // namespace tpmdiag::cli

#define TPMDIAG_COMMAND(name, usage, summary, fn, order) \
  [[maybe_unused]] static const bool tpmdiag_registered_##fn =   \
      ::tpmdiag::cli::register_command({name, usage, summary, fn, order});
