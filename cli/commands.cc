#include "cli/commands.h"

#include <algorithm>

namespace tpmdiag::cli {

namespace {
std::vector<Command>& registry() {
  static std::vector<Command> r;  // function-local: safe from static-init order
  return r;
}
}  // namespace

bool register_command(const Command& c) {
  registry().push_back(c);
  return true;
}

std::vector<Command> commands() {
  auto list = registry();
  std::sort(list.begin(), list.end(), [](const Command& a, const Command& b) { return a.order < b.order; });
  return list;
}

}  // namespace tpmdiag::cli
