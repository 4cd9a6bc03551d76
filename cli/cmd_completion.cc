// tpmdiag completion bash|zsh|fish: the shell completion script, made from the
// registered commands and their options (cli/help.h).
#include "cli/common.h"

namespace tpmdiag::cli {

namespace {

constexpr const char* kShells = "bash|zsh|fish";

const char* kHelp = R"(Usage: tpmdiag completion bash|zsh|fish

Prints the completion script for the shell: commands, their options, the
values of options that take one of a few, and file names where a command
takes paths. The installed tpmdiag (cmake --install, the .deb) brings them;
to try one without installing:

  source <(tpmdiag completion bash)
  tpmdiag completion zsh > ~/.zfunc/_tpmdiag     (a folder in $fpath)
  tpmdiag completion fish > ~/.config/fish/completions/tpmdiag.fish

Exit codes: 0 ok, 2 usage error.

Options)";

}  // namespace

int cmd_completion(const Args& args) {
  std::string shell;
  po::options_description d(kHelp);
  d.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(d).add_options()("shell", po::value(&shell), "shell");
  po::positional_options_description pos;
  pos.add("shell", 1);
  po::variables_map vm;
  if (!parse_args("completion", args, all, &pos, vm)) return 2;
  if (vm.count("help")) {
    print_help(d);
    return 0;
  }
  if (shell.empty()) {
    std::cerr << "tpmdiag completion: error: name a shell: " << kShells << " (see 'tpmdiag completion --help')\n";
    return 2;
  }
  std::vector<std::string> names;  // kShells, split
  for (std::string_view rest = kShells; !rest.empty();) {
    names.emplace_back(rest.substr(0, rest.find('|')));
    rest.remove_prefix(std::min(rest.size(), names.back().size() + 1));
  }
  std::vector<const char*> shells;
  for (const auto& n : names) shells.push_back(n.c_str());
  if (!check_choice("completion", "shell", shell, shells)) return 2;
  std::cout << completion_script(shell);
  return 0;
}

TPMDIAG_COMMAND("completion", kShells, "print the shell completion script (bash, zsh, fish)", cmd_completion, 90)

}  // namespace tpmdiag::cli
