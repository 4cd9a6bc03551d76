// Options and helpers shared by the subcommands.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "kb/engine.h"

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

// Parses args; on a usage error prints "tpmdiag CMD: error: ..." and returns false.
bool parse_args(const std::string& cmd, const Args& args, const po::options_description& visible,
                const po::positional_options_description* pos, po::variables_map& vm);

// Loads the engine or prints the one-line error; nullptr means exit 2.
std::unique_ptr<Engine> load_engine(const CommonOptions& o);

// Fails (prints, returns false) when `format` is not one of the allowed.
bool check_format(const std::string& cmd, const std::string& format, std::initializer_list<const char*> allowed);

// Prints "tpmdiag: error: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace tpmdiag::cli
