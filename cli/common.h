// Options and helpers shared by the subcommands.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/help.h"
#include "pipeline/run.h"
#include "live/host_table.h"

namespace tpmdiag::cli {

namespace po = boost::program_options;

struct CommonOptions {
  std::vector<std::string> rules_dirs, kb_dirs;
  std::string format = "text";
  std::string color = "auto";
};

// --rules, --kb (data) and, with formats, --format and --color.
void add_data_options(po::options_description& d, CommonOptions& o);
void add_output_options(po::options_description& d, CommonOptions& o, const char* formats);

// "33554432", "512K", "32M", "32MiB", "1g" (binary units, case-insensitive);
// false when malformed. Values over 2^64 - 1 give UINT64_MAX, so that they
// fail a range check as "out of range" rather than as malformed.
bool parse_size(std::string_view s, uint64_t& out);
// 1073741824 -> "1G", 1536 -> "1536" (exact multiples only).
std::string size_text(uint64_t bytes);

// Limit options (issue 9, docs/limits.md). Sizes take bytes or K, M, G
// (binary: 1M = 1048576); counts a whole number; each has a range. They are
// read as text and parsed by one parser after the command line, so that a bad
// or out-of-range value is one line naming the option (exit 2) and "-5"
// cannot wrap around to a huge unsigned value as it would with po::value<size_t>.
//   LimitOptions lim;
//   lim.size(d, "max-line", run.scan.max_line, 256, 1 << 30, "SIZE: ...");
//   if (!parse_args(cmd, args, d, nullptr, vm) || !lim.apply(cmd, vm)) return 2;
class LimitOptions {
 public:
  // `shown`: the default as --help shows it (nullptr: the number); "" = no
  // default (the target is left alone unless the option is given).
  template <class T>
  void size(po::options_description& d, const char* name, T& target, uint64_t min, uint64_t max,
            const char* help, const char* shown = nullptr) {
    add(d, name, true, min, max, help, shown ? shown : size_text(target),
        [&target](uint64_t v) { target = static_cast<T>(v); });
  }
  template <class T>
  void count(po::options_description& d, const char* name, T& target, uint64_t min, uint64_t max,
             const char* help, const char* shown = nullptr) {
    add(d, name, false, min, max, help, shown ? shown : std::to_string(target),
        [&target](uint64_t v) { target = static_cast<T>(v); });
  }
  // Parses and checks the options present in vm; at the first bad one prints
  // "tpmdiag CMD: error: --NAME ..." and returns false.
  bool apply(const std::string& cmd, const po::variables_map& vm) const;

 private:
  struct Opt {
    std::string name, text;
    bool is_size;
    uint64_t min, max;
    std::function<void(uint64_t)> set;
  };
  void add(po::options_description& d, const char* name, bool is_size, uint64_t min, uint64_t max,
           const char* help, std::string shown, std::function<void(uint64_t)> set);
  std::deque<Opt> opts_;  // a deque: po keeps pointers to each Opt::text
};

// --max-line, --max-decompressed, --max-depth, --max-text-member: the limits
// on reading inputs, the same for diagnose, explain, scan and serve. Defaults
// are the current values in `run`.
void add_input_limit_options(po::options_description& d, LimitOptions& lim, RunOptions& run);

// --max-hosts, --max-facts-per-host: what live mode keeps (listen, watch).
void add_host_limit_options(po::options_description& d, LimitOptions& lim, live::HostLimits& limits);

// Fails (prints "tpmdiag CMD: error: ...", returns false) unless 0 <= x <= 1.
bool check_min_confidence(const std::string& cmd, double x);

// Parses args; on a usage error prints "tpmdiag CMD: error: ..." and returns
// false. An unknown option gets "did you mean"; an enumerated option (help
// text "a|b|c: ...", cli/help.h) must have one of its values.
bool parse_args(const std::string& cmd, const Args& args, const po::options_description& visible,
                const po::positional_options_description* pos, po::variables_map& vm);

// Loads the engine or prints the one-line error; nullptr means exit 2. The
// engine lives until the process ends (never freed: see common.cc). The
// rules' samples are loaded only when asked (`rules test`).
Engine* load_engine(const CommonOptions& o, bool rule_samples = false);

// -o FILE: where the output goes ("-" or none: standard output).
//   OutputFile out;
//   add_output_file_option(d, out.path);
//   if (!out.open("diagnose")) return 2;        // one line on stderr
//   render_text(r, out.stream(), style);
//   if (!out.close("diagnose")) return 2;       // a write error (a full disk): one line
class OutputFile {
 public:
  std::string path;
  // Refuses (one line, false) a FILE that is one of `inputs`: truncating it
  // would destroy what is about to be read.
  bool open(const std::string& cmd, const std::vector<std::string>& inputs = {});
  std::ostream& stream() { return file_ ? *file_ : std::cout; }
  bool to_stdout() const { return path.empty() || path == "-"; }
  bool close(const std::string& cmd);

 private:
  std::unique_ptr<std::ofstream> file_;
};
void add_output_file_option(po::options_description& d, std::string& path);

// Writes text to a file created for the owner only (a redaction map holds the
// originals); false after printing one line.
bool write_private_file(const std::string& cmd, const std::string& path, const std::string& text);

// Fails (prints "unknown WHAT 'x'; did you mean ...? (use a, b)", returns
// false) unless `value` is one of `allowed`; `what`: "--color", "shell".
bool check_choice(const std::string& cmd, const std::string& what, const std::string& value,
                  const std::vector<const char*>& allowed);

// "; did you mean 'X'?" for the candidate nearest to `word` (common/text.h
// nearest()), or "" when none is near.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// The ids of the causes `engine` knows, for a "did you mean" on a cause id.
std::vector<std::string> cause_ids(const Engine& engine);

// A --cause ID that matched nothing: when it is a typo of a built-in cause id,
// a note says which ("tpmdiag CMD: note: ..."). Not an error: a store scanned
// with --kb DIR may hold ids of its own.
void hint_unknown_cause(const std::string& cmd, const std::string& id);

// Prints "tpmdiag: error: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace tpmdiag::cli
