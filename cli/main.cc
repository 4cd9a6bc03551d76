// tpmdiag: root-cause analysis of TPM / host-attestation failures on ESXi.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>

#include "cli/commands.h"

namespace {

const char* kIntro = "tpmdiag — why does this ESXi host fail TPM attestation? Read its logs and say.\n\nUsage:\n";

const char* kOutro = R"(
Examples:
  tpmdiag diagnose /var/run/log/vmkernel.log /var/run/log/hostd.log
  xclip -o | tpmdiag diagnose -          (paste lines from a ticket or KB)
  tpmdiag diagnose --format json bundle-folder/ | jq '.findings[0].cause'
  tpmdiag rc 0x9a2

Exit codes (all commands):
  0  no TPM problem found (healthy, resolved, or no TPM lines at all)
  1  a TPM problem was found: it needs attention (unlike grep, on purpose)
  2  usage error, a bad rule/cause file, or an input not read to its end
     (the report of what was read is still printed)

Run 'tpmdiag COMMAND --help' for a command's inputs, options and output.
)";

void help(std::ostream& out) {
  out << kIntro;
  size_t width = 0;
  for (const auto& c : tpmdiag::cli::commands())
    width = std::max(width, std::string("tpmdiag ").size() + std::strlen(c.name) + 1 + std::strlen(c.usage));
  for (const auto& c : tpmdiag::cli::commands()) {
    std::string left = std::string("tpmdiag ") + c.name + " " + c.usage;
    out << "  " << left << std::string(width + 2 - left.size(), ' ') << c.summary << "\n";
  }
  out << kOutro;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    help(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V")) {
    std::cout << "tpmdiag " << TPMDIAG_VERSION << "\n";
    return 0;
  }
  tpmdiag::cli::Args args(argv + 2, argv + argc);
  for (const auto& c : tpmdiag::cli::commands())
    if (argv[1] == std::string(c.name)) return c.run(args);
  std::cerr << "tpmdiag: error: unknown command '" << argv[1] << "' (see 'tpmdiag --help')\n";
  return 2;
}
