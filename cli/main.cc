// tpmdiag: root-cause analysis of TPM / host-attestation failures on ESXi.
#include <cstring>
#include <iostream>
#include <string>

#include "cli/commands.h"

namespace {

const char* kHelp = R"(tpmdiag — why does this ESXi host fail TPM attestation? Read its logs and say.

Usage:
  tpmdiag diagnose [PATH...|-]   diagnose logs: files, folders, .gz, or stdin (-)
  tpmdiag explain [PATH...|-]    annotate each TPM-related line: rule, decoded code, meaning
  tpmdiag rc CODE...             decode TPM 2.0 response codes: 0x9a2, 2466, (0x921)
  tpmdiag rules list|test        list the rules, or run every rule's sample lines
  tpmdiag kb list|show ID        the knowledge base of causes, fixes and sources

Examples:
  tpmdiag diagnose /var/run/log/vmkernel.log /var/run/log/hostd.log
  xclip -o | tpmdiag diagnose -          (paste lines from a ticket or KB)
  tpmdiag diagnose --format json bundle-folder/ | jq '.findings[0].cause'
  tpmdiag rc 0x9a2

Exit codes (all commands):
  0  no TPM problem found (healthy, resolved, or no TPM lines at all)
  1  a TPM problem was found: it needs attention (unlike grep, on purpose)
  2  usage error, a bad rule/cause file, or no input could be read

Run 'tpmdiag COMMAND --help' for a command's inputs, options and output.
)";

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    (argc < 2 ? std::cerr : std::cout) << kHelp;
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V")) {
    std::cout << "tpmdiag " << TPMDIAG_VERSION << "\n";
    return 0;
  }
  std::string cmd = argv[1];
  tpmdiag::cli::Args args(argv + 2, argv + argc);
  using namespace tpmdiag::cli;
  if (cmd == "diagnose") return cmd_diagnose(args);
  if (cmd == "explain") return cmd_explain(args);
  if (cmd == "rc") return cmd_rc(args);
  if (cmd == "rules") return cmd_rules(args);
  if (cmd == "kb") return cmd_kb(args);
  std::cerr << "tpmdiag: error: unknown command '" << cmd << "' (see 'tpmdiag --help')\n";
  return 2;
}
