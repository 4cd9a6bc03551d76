#include "cli/common.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include "cli/help.h"
#include "common/text.h"

namespace tpmdiag::cli {

bool parse_size(std::string_view s, uint64_t& out) {
  size_t i = 0;
  uint64_t n = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    unsigned d = static_cast<unsigned>(s[i] - '0');
    n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
  }
  if (i == 0) return false;  // also "-5", " 5", "K"
  std::string unit = ascii_lower(s.substr(i));
  int shift;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gib") shift = 30;
  else return false;
  out = n > (UINT64_MAX >> shift) ? UINT64_MAX : n << shift;
  return true;
}

std::string size_text(uint64_t bytes) {
  if (bytes == 0) return "0";
  for (auto [shift, unit] : {std::pair{30, "G"}, {20, "M"}, {10, "K"}})
    if (bytes % (uint64_t{1} << shift) == 0) return std::to_string(bytes >> shift) + unit;
  return std::to_string(bytes);
}

void LimitOptions::add(po::options_description& d, const char* name, bool is_size, uint64_t min, uint64_t max,
                       const char* help, std::string shown, std::function<void(uint64_t)> set) {
  std::string key(name);  // "jobs,j" -> "jobs": the long name is the key in vm and in messages
  key = key.substr(0, key.find(','));
  Opt& o = opts_.emplace_back(Opt{key, shown, is_size, min, max, std::move(set)});
  if (shown.empty()) d.add_options()(name, po::value(&o.text), help);
  else d.add_options()(name, po::value(&o.text)->default_value(shown), help);
}

bool LimitOptions::apply(const std::string& cmd, const po::variables_map& vm) const {
  for (const Opt& o : opts_) {
    if (!vm.count(o.name)) continue;
    auto fail = [&](const std::string& why) {
      std::cerr << "tpmdiag " << cmd << ": error: --" << o.name << " '" << o.text << "': " << why << '\n';
      return false;
    };
    uint64_t v = 0;
    bool digits_only = !o.text.empty() && o.text.find_first_not_of("0123456789") == std::string::npos;
    if (!(o.is_size ? parse_size(o.text, v) : digits_only && parse_size(o.text, v)))
      return fail(o.is_size ? "expected a size in bytes, or with K, M, G (e.g. 1048576, 512K, 1M)"
                            : "expected a whole number");
    if (v < o.min || v > o.max) {
      auto show = [&](uint64_t x) { return o.is_size ? size_text(x) : std::to_string(x); };
      return fail("out of range: use " + show(o.min) + " to " + show(o.max) + (o.is_size ? " bytes" : ""));
    }
    o.set(v);
  }
  return true;
}

void add_input_limit_options(po::options_description& d, LimitOptions& lim, RunOptions& run) {
  lim.size(d, "max-line", run.scan.max_line, 256, uint64_t{1} << 30,
           "SIZE: longer lines are cut here (matched on their start) and counted");
  lim.size(d, "max-decompressed", run.limits.max_decompressed, uint64_t{1} << 20, uint64_t{1} << 50,
           "SIZE: stop inflating a .gz input or an archive member past this size (gzip-bomb guard)");
  lim.size(d, "max-total-decompressed", run.limits.max_total_decompressed, uint64_t{1} << 20, uint64_t{1} << 52,
           "SIZE: stop inflating once a run (a scanned input, a serve request) has inflated this much in all "
           "(default: 4 x --max-decompressed)",
           "");
  lim.count(d, "max-depth", run.limits.max_depth, 1, 16,
            "N: open .gz files and archives nested up to N levels (a .tgz is one); deeper ones are an error");
  lim.size(d, "max-text-member", run.limits.max_text_member, 0, uint64_t{1} << 50,
           "SIZE: skip a bundle's commands/*.txt (and text files that are not logs) larger than this");
  lim.count(d, "max-facts", run.scan.max_facts, 1, uint64_t{1} << 24,
            "N: TPM facts kept per input (identical lines are folded first); more are counted as dropped");
}

void add_host_limit_options(po::options_description& d, LimitOptions& lim, live::HostLimits& limits) {
  lim.count(d, "max-hosts", limits.max_hosts, 1, 1 << 24,
            "N: hosts kept; the least recently active one is evicted beyond N");
  lim.count(d, "max-facts-per-host", limits.max_facts_per_host, 1, 1 << 20,
            "N: TPM facts kept per host; the oldest is evicted beyond N");
}

bool check_min_confidence(const std::string& cmd, double x) {
  if (x >= 0.0 && x <= 1.0) return true;  // also false for NaN
  std::cerr << "tpmdiag " << cmd << ": error: --min-confidence must be between 0 and 1\n";
  return false;
}

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

namespace {

// A positional argument's "option" (e.g. diagnose's "path") is no option a user can type.
bool is_positional(const std::string& name, const po::positional_options_description* pos) {
  for (unsigned i = 0; pos && i < pos->max_total_count() && i < 64; ++i)
    if (pos->name_for_position(i) == name) return true;
  return false;
}

// "did you mean '--format'?" for an option that is not one of the command's.
std::string option_hint(const std::string& given, const po::options_description& all,
                        const po::positional_options_description* pos) {
  std::vector<std::string> names;
  for (const auto& o : all.options())
    if (!is_positional(o->long_name(), pos) && !o->long_name().empty()) names.push_back("--" + o->long_name());
  return did_you_mean(given.substr(0, given.find('=')), names);
}

// The value of each enumerated option given must be one of its values.
bool check_choices(const std::string& cmd, const po::options_description& all,
                   const po::positional_options_description* pos, const po::variables_map& vm) {
  for (const auto& o : all.options()) {
    OptionDoc doc = describe(*o);
    if (doc.choices.empty() || !vm.count(doc.name) || vm[doc.name].defaulted()) continue;
    const auto* value = boost::any_cast<std::string>(&vm[doc.name].value());
    if (!value) continue;
    std::vector<const char*> allowed;
    for (const auto& c : doc.choices) allowed.push_back(c.c_str());
    std::string what = is_positional(doc.name, pos) ? doc.name : "--" + doc.name;  // "action", "--color"
    if (!check_choice(cmd, what, *value, allowed)) return false;
  }
  return true;
}

}  // namespace

bool parse_args(const std::string& cmd, const Args& args, const po::options_description& options,
                const po::positional_options_description* pos, po::variables_map& vm) {
  try {
    auto parser = po::command_line_parser(args).options(options);
    if (pos) parser.positional(*pos);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    std::cerr << "tpmdiag " << cmd << ": error: unknown option '" << visible(e.get_option_name()) << "'"
              << option_hint(e.get_option_name(), options, pos) << " (see 'tpmdiag " << cmd << " --help')\n";
    return false;
  } catch (const po::error& e) {
    std::cerr << "tpmdiag " << cmd << ": error: " << e.what() << " (see 'tpmdiag " << cmd << " --help')\n";
    return false;
  }
  return vm.count("help") || check_choices(cmd, options, pos, vm);
}

Engine* load_engine(const CommonOptions& o, bool rule_samples) {
  EngineOptions eo;
  eo.rules_dirs = o.rules_dirs;
  eo.kb_dirs = o.kb_dirs;
  eo.rule_samples = rule_samples;
  auto e = Engine::load(eo);
  if (!e) {
    print_error(e.error().message);
    return nullptr;
  }
  // Kept until the process ends, never freed: freeing a thousand rules and
  // their patterns was a third of a cached 10x-rules paste's start-up cost,
  // and the system takes the memory back at once. Reachable from a static,
  // so LeakSanitizer does not count it.
  static auto* kept = new std::vector<std::unique_ptr<Engine>>;
  kept->push_back(std::move(*e));
  return kept->back().get();
}

bool check_choice(const std::string& cmd, const std::string& what, const std::string& value,
                  const std::vector<const char*>& allowed) {
  std::vector<std::string> list;
  for (const char* a : allowed) {
    if (value == a) return true;
    list.emplace_back(a);
  }
  std::cerr << "tpmdiag " << cmd << ": error: unknown " << what << " '" << visible(value) << "'"
            << did_you_mean(value, list) << " (use ";
  for (size_t i = 0; i < list.size(); ++i) std::cerr << (i ? ", " : "") << list[i];
  std::cerr << ")\n";
  return false;
}

void add_output_file_option(po::options_description& d, std::string& path) {
  d.add_options()("output,o", po::value(&path), "FILE: write the output to FILE ('-': standard output)");
}

namespace {

bool write_failed(const std::string& cmd, const std::string& path, int err) {
  std::cerr << "tpmdiag " << cmd << ": error: cannot write " << visible(path) << ": "
            << (err ? std::strerror(err) : "write error") << '\n';
  return false;
}

}  // namespace

bool OutputFile::open(const std::string& cmd, const std::vector<std::string>& inputs) {
  if (path.empty() || path == "-") return true;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (in != "-" && std::filesystem::equivalent(path, in, ec)) {
      std::cerr << "tpmdiag " << cmd << ": error: -o " << visible(path) << " is an input; write the output elsewhere\n";
      return false;
    }
  }
  errno = 0;
  file_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
  if (!*file_) return write_failed(cmd, path, errno);
  return true;
}

bool OutputFile::close(const std::string& cmd) {
  if (!file_) {
    std::cout.flush();
    return true;
  }
  errno = 0;
  file_->flush();
  int err = errno;
  file_->close();
  if (file_->fail()) return write_failed(cmd, path, err ? err : errno);
  return true;
}

bool write_private_file(const std::string& cmd, const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return write_failed(cmd, path, errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return write_failed(cmd, path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return write_failed(cmd, path, errno);
  return true;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string near = nearest(word, candidates);
  return near.empty() ? "" : "; did you mean '" + near + "'?";
}

std::vector<std::string> cause_ids(const Engine& engine) {
  std::vector<std::string> ids;
  for (const auto& c : engine.causes()) ids.push_back(c.id);
  return ids;
}

void hint_unknown_cause(const std::string& cmd, const std::string& id) {
  auto engine = Engine::load({});
  if (!engine || (*engine)->cause(id)) return;
  if (std::string hint = did_you_mean(id, cause_ids(**engine)); !hint.empty())
    std::cerr << "tpmdiag " << cmd << ": note: no built-in cause has the id '" << visible(id) << "'" << hint << '\n';
}

// Messages name files and members, which may hold escape sequences or a
// newline: shown as \xNN, so an error stays one line and cannot drive the terminal.
void print_error(const std::string& message) { std::cerr << "tpmdiag: error: " << visible(message) << '\n'; }

}  // namespace tpmdiag::cli
