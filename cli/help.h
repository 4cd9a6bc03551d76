// Help, man page and shell completions from one source: the registered
// commands (cli/commands.h) and each command's options_description.
//
// An option's help text starts with the name of its value ("SIZE: ...",
// "FILE: ...") or, for an option with a fixed set of values, with the values
// ("auto|always|never: ..."). That one string is what --help shows, what the
// man page and the completions list, and what parse_args accepts:
//   ("color", po::value(&o.color)->default_value("auto"), "auto|always|never: colour text output")
// shows as
//   --color auto|always|never (default auto)
//                          colour text output
// and `--color sometimes` is a usage error listing the three.
#pragma once

#include <boost/program_options.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace tpmdiag::cli {

namespace po = boost::program_options;

struct OptionDoc {
  std::string name;                  // long name: "max-line"
  std::string short_name;            // "o", or ""
  std::string value;                 // "SIZE", "auto|always|never"; "" for a switch
  std::vector<std::string> choices;  // the values of an enumerated option
  std::string default_text;          // "1M"; "" when none
  std::string text;                  // the help without its leading "NAME: "
};

struct CommandDoc {
  std::string intro;  // the help text before the options
  std::vector<OptionDoc> options;
};

OptionDoc describe(const po::option_description& o);
CommandDoc describe(const po::options_description& visible);

// `tpmdiag CMD --help`: the command's text, then its options.
void print_help(const po::options_description& visible);

// What `c --help` would print, as data: the man page and the completions
// run each command's --help this way (print_help records instead of printing).
// Empty options and intro when the command prints its help another way.
CommandDoc command_doc(const Command& c);

// `tpmdiag --help`.
void print_general_help(std::ostream& out);

// The man page tpmdiag.1 (roff), and the completion script for a shell
// ("bash", "zsh", "fish"; "" for another).
std::string man_page();
std::string completion_script(const std::string& shell);

}  // namespace tpmdiag::cli
