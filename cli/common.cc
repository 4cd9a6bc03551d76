#include "cli/common.h"

namespace tpmdiag::cli {

void add_data_options(po::options_description& d, CommonOptions& o) {
  d.add_options()
      ("rules", po::value(&o.rules_dirs)->composing(),
       "DIR: also load the rule files (*.json) in DIR; a rule with the id of a built-in one replaces it")
      ("kb", po::value(&o.kb_dirs)->composing(),
       "DIR: also load the cause files (*.json) in DIR; same id replaces the built-in cause");
}

void add_output_options(po::options_description& d, CommonOptions& o, const char* formats) {
  d.add_options()
      ("format", po::value(&o.format)->default_value("text"), formats)
      ("color", po::value(&o.color)->default_value("auto"),
       "auto|always|never: colour text output (auto: only on a terminal, never if NO_COLOR is set)");
}

bool parse_args(const std::string& cmd, const Args& args, const po::options_description& visible,
                const po::positional_options_description* pos, po::variables_map& vm) {
  try {
    auto parser = po::command_line_parser(args).options(visible);
    if (pos) parser.positional(*pos);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tpmdiag " << cmd << ": error: " << e.what() << " (see 'tpmdiag " << cmd << " --help')\n";
    return false;
  }
  return true;
}

std::unique_ptr<Engine> load_engine(const CommonOptions& o) {
  auto e = Engine::load({o.rules_dirs, o.kb_dirs});
  if (!e) {
    print_error(e.error().message);
    return nullptr;
  }
  return std::move(*e);
}

bool check_format(const std::string& cmd, const std::string& format,
                  std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (format == a) return true;
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  std::cerr << "tpmdiag " << cmd << ": error: unknown --format '" << format << "' (use " << list << ")\n";
  return false;
}

void print_error(const std::string& message) { std::cerr << "tpmdiag: error: " << message << '\n'; }

}  // namespace tpmdiag::cli
