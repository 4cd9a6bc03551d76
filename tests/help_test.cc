// Unit tests for how an option's help text becomes what --help, the man page,
// the completions and parse_args take from it (cli/help.h).
#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>

#include "cli/common.h"

using namespace tpmdiag::cli;

namespace {

OptionDoc only(const po::options_description& d) {
  REQUIRE(d.options().size() == 1);
  return describe(*d.options()[0]);
}

// Runs parse_args with stderr captured; returns what it printed.
std::string parse_error(const po::options_description& d, const Args& args, bool& ok) {
  std::ostringstream err;
  auto* saved = std::cerr.rdbuf(err.rdbuf());
  po::variables_map vm;
  ok = parse_args("demo", args, d, nullptr, vm);
  std::cerr.rdbuf(saved);
  return err.str();
}

}  // namespace

TEST_CASE("describe: the value name comes from the help text's leading NAME:", "[help]") {
  std::string s;
  po::options_description d;
  d.add_options()("output,o", po::value(&s), "FILE: write the output to FILE");
  OptionDoc o = only(d);
  CHECK(o.name == "output");
  CHECK(o.short_name == "o");
  CHECK(o.value == "FILE");
  CHECK(o.text == "write the output to FILE");
  CHECK(o.default_text.empty());
  CHECK(o.choices.empty());
}

TEST_CASE("describe: a two-letter long name is no short name", "[help]") {
  std::string s;
  po::options_description d;
  d.add_options()("db", po::value(&s), "FILE: the store");
  OptionDoc o = only(d);
  CHECK(o.name == "db");
  CHECK(o.short_name.empty());
}

TEST_CASE("describe: enumerated values, the default, and a switch", "[help]") {
  std::string color;
  bool flag = false;
  po::options_description d;
  d.add_options()("color", po::value(&color)->default_value("auto"), "auto|always|never: colour text output")
      ("timeline", po::bool_switch(&flag), "print the timeline: one line per TPM line");
  OptionDoc c = describe(*d.options()[0]);
  CHECK(c.value == "auto|always|never");
  CHECK(c.choices == std::vector<std::string>{"auto", "always", "never"});
  CHECK(c.default_text == "auto");
  CHECK(c.text == "colour text output");
  OptionDoc t = describe(*d.options()[1]);
  CHECK(t.value.empty());  // "print the timeline:" is no value name
  CHECK(t.text == "print the timeline: one line per TPM line");
}

TEST_CASE("describe: 'HOST:PORT to ...' names the value and stays a sentence; value_name wins", "[help]") {
  std::string a, b;
  po::options_description d;
  d.add_options()("listen", po::value(&a)->default_value("127.0.0.1:8080"), "HOST:PORT to serve on")
      ("format", po::value(&b)->value_name("text|json"), "output format");
  OptionDoc l = describe(*d.options()[0]);
  CHECK(l.value == "HOST:PORT");
  CHECK(l.text == "HOST:PORT to serve on");
  CHECK(l.default_text == "127.0.0.1:8080");
  OptionDoc f = describe(*d.options()[1]);
  CHECK(f.value == "text|json");
  CHECK(f.choices == std::vector<std::string>{"text", "json"});
}

TEST_CASE("sizes show in the units the parser takes", "[help]") {
  uint64_t max = uint64_t{64} << 30;
  po::options_description d;
  LimitOptions lim;
  lim.size(d, "max-decompressed", max, 1, uint64_t{1} << 50, "SIZE: stop inflating past this size");
  OptionDoc o = only(d);
  CHECK(o.value == "SIZE");
  CHECK(o.default_text == "64G");
  uint64_t back = 0;
  CHECK(parse_size(o.default_text, back));
  CHECK(back == max);
}

TEST_CASE("parse_args: an enumerated value outside its list, and an unknown option", "[help]") {
  std::string color;
  po::options_description d;
  d.add_options()("color", po::value(&color)->default_value("auto"), "auto|always|never: colour text output");
  bool ok = false;
  std::string err = parse_error(d, {"--color", "sometimes"}, ok);
  CHECK_FALSE(ok);
  CHECK(err == "tpmdiag demo: error: unknown --color 'sometimes' (use auto, always, never)\n");
  err = parse_error(d, {"--color", "alway"}, ok);
  CHECK_FALSE(ok);
  CHECK(err.find("did you mean 'always'?") != std::string::npos);
  err = parse_error(d, {"--colr", "never"}, ok);
  CHECK_FALSE(ok);
  CHECK(err.find("unknown option '--colr'; did you mean '--color'?") != std::string::npos);
  err = parse_error(d, {}, ok);  // the default is not checked against a typo'd list
  CHECK(ok);
  CHECK(err.empty());
  err = parse_error(d, {"--color", "never"}, ok);
  CHECK(ok);
  CHECK(color == "never");
}

TEST_CASE("every command's help is data: options, and a text before them", "[help]") {
  for (const auto& c : commands()) {
    CommandDoc doc = command_doc(c);
    INFO(c.name);
    CHECK(doc.intro.starts_with("Usage: tpmdiag " + std::string(c.name)));
    bool has_help = false;
    for (const auto& o : doc.options) has_help |= o.name == "help";
    CHECK(has_help);
    for (const auto& o : doc.options) CHECK(o.value != "VALUE");  // each value is named in its help text
  }
}
