// tpmdiag rc CODE...: decode TPM response codes, with ESXi context.
#include <boost/program_options.hpp>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/common.h"
#include "cli/render.h"
#include "cli/term.h"
#include "common/embedded.h"
#include "common/json_writer.h"
#include "kb/rc.h"

namespace tpmdiag::cli {

namespace po = boost::program_options;

namespace {

constexpr const char* kHelp = R"(Usage: tpmdiag rc [options] CODE...

Decode TPM 2.0 response codes as ESXi logs them, e.g. the 0x9a2 in
  hostd: CreatePrimary: (0x9a2) Unknown
Shows the TCG name, the kind (error, warning, or which handle, session or
parameter the code is about), what it means and, when tpmdiag knows it, what
the code usually means on ESXi (with the kb cause id).

CODE is hex with 0x (0x9a2, 0X9A2), decimal (2466), or either in parentheses
as hostd prints it ((0x9a2)); or a TCG name (TPM_RC_LOCKOUT, lockout).
Digits without 0x are decimal: when they also read as a known hex code, a
note on stderr says so ('921' -> did you mean 0x921, TPM_RC_LOCKOUT?). TSS codes with a layer in bits 16-23 work too
(0x000b0921 = rmt layer, 0x0008000b = sys layer). TPM 1.2 codes are shown as
such; vendor-defined codes say so.

Example:
  tpmdiag rc 0x18b 0x9a2 0x921
  tpmdiag rc TPM_RC_LOCKOUT
  tpmdiag rc --command CreatePrimary --format json 0x9a2

Exit codes: 0 all codes decoded; 2 bad input (a code that is not a number or
is above 0xffffffff, no code, unknown option). Good codes are still printed.

Options)";

struct Row {
  rc::Decoded d;
  std::vector<const rc::Context*> ctx;
};

std::string context_line(const rc::Context& c) {
  std::string s = c.command.empty() ? "on ESXi: " : "from " + c.command + ": ";
  s += c.context;
  if (!c.cause.empty()) s += " [cause: " + c.cause + "]";
  if (c.inference) s += " [inference]";
  return s;
}

void print_text(const std::vector<Row>& rows, size_t width, std::ostream& out) {
  bool layered = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.d.layer != 0; });
  size_t w_raw = 0, w_layer = 0, w_name = 0, w_loc = 0;
  for (const Row& r : rows) {
    w_raw = std::max(w_raw, rc::format_code(r.d.raw).size());
    w_layer = std::max(w_layer, r.d.layer_name.size());
    w_name = std::max(w_name, std::max<size_t>(r.d.name.size(), 1));
    w_loc = std::max(w_loc, rc::location(r.d).size());
  }
  auto pad = [](std::string s, size_t w) { return s.append(w - std::min(w, s.size()) + 2, ' '); };
  for (const Row& r : rows) {
    std::string line = pad(rc::format_code(r.d.raw), w_raw);
    if (layered) line += pad(r.d.layer_name, w_layer);
    line += pad(r.d.name.empty() ? "-" : r.d.name, w_name);
    line += pad(rc::location(r.d), w_loc);
    // The description wraps in its column (under the code when the columns leave it too little room).
    size_t col = line.size() + 20 <= width ? line.size() : w_raw + 4;
    std::ostringstream desc;
    hang(desc, r.d.description, line.size(), col, width);
    out << line << desc.str().substr(std::min(line.size(), desc.str().size()));
    if (r.d.description.empty()) out << '\n';
    for (const rc::Context* c : r.ctx) hang(out, context_line(*c), w_raw + 2, w_raw + 4, width);
  }
}

// ESXi logs codes in hex; "921" typed from a log line almost always means
// 0x921. When the same digits read as hex name a TPM code (or one the
// knowledge base knows), say so: the decimal reading is still what is shown.
std::string decimal_hint(const std::string& text, uint32_t value, const std::vector<rc::Context>& context) {
  std::string digits(text);
  digits.erase(std::remove_if(digits.begin(), digits.end(), [](char c) { return c == '(' || c == ')' || c == ' '; }),
               digits.end());
  if (digits.empty() || digits.size() > 8 || digits.find_first_not_of("0123456789") != std::string::npos) return "";
  uint32_t hex = static_cast<uint32_t>(std::stoul(digits, nullptr, 16));
  rc::Decoded d = rc::decode(hex);
  bool known = !rc::find_context(context, hex, "").empty();
  if (d.name.empty() && !known) return "";
  return "'" + text + "' was read as decimal (" + rc::format_code(value) + "); did you mean 0x" + digits +
         (d.name.empty() ? "" : " (" + d.name + ")") + "? ESXi logs response codes in hex";
}

void print_json(const std::vector<Row>& rows) {
  JsonWriter w(std::cout, 2);
  w.begin_array();
  for (const Row& r : rows) write_rc(w, r.d, r.ctx);
  w.end_array();
  std::cout << '\n';
}

}  // namespace

void write_rc(JsonWriter& w, const rc::Decoded& d, const std::vector<const rc::Context*>& ctx) {
  w.begin_object();
  w.key("raw").string(rc::format_code(d.raw));
  w.key("value").integer(d.raw);
  w.key("layer").integer(d.layer);
  w.key("layer_name").string(d.layer_name);
  w.key("format").integer(d.format);
  w.key("name").string(d.name);
  w.key("kind").string(rc::kind_name(d.kind));
  w.key("index").integer(d.index);
  w.key("description").string(d.description);
  // "context": all matching lines joined; "contexts" keeps their details.
  std::string joined;
  for (const rc::Context* c : ctx) joined += (joined.empty() ? "" : " | ") + c->context;
  if (ctx.empty()) w.key("context").null(); else w.key("context").string(joined);
  w.key("contexts").begin_array();
  for (const rc::Context* c : ctx) {
    w.begin_object();
    if (c->command.empty()) w.key("command").null(); else w.key("command").string(c->command);
    w.key("context").string(c->context);
    if (c->cause.empty()) w.key("cause").null(); else w.key("cause").string(c->cause);
    w.key("source").string(c->source);
    w.key("inference").boolean(c->inference);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

int cmd_rc(const Args& args) {
  auto error = [](const std::string& msg) {
    std::cerr << "tpmdiag rc: error: " << msg << '\n';
    return 2;
  };
  po::options_description opts(kHelp);
  opts.add_options()
      ("help,h", "show this help")
      ("format", po::value<std::string>()->default_value("text")->value_name("text|json"), "output format")
      ("command", po::value<std::string>()->value_name("NAME"),
       "TPM command the codes came from (e.g. CreatePrimary); narrows the ESXi context");
  TermOptions term;
  add_terminal_options(opts, term);
  po::options_description hidden;
  hidden.add_options()("code", po::value<std::vector<std::string>>(), "response code");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("code", -1);

  po::variables_map vm;
  if (!parse_args("rc", args, all, &pos, vm)) return 2;
  if (vm.count("help")) {
    print_help(opts);
    return 0;
  }
  const std::string format = vm["format"].as<std::string>();
  if (!check_terminal_options("rc", term)) return 2;
  const std::string command = vm.count("command") ? vm["command"].as<std::string>() : "";
  const auto codes = vm.count("code") ? vm["code"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (codes.empty()) return error("no response code given (e.g. 'tpmdiag rc 0x9a2'; see --help)");

  // Context is a nice-to-have: a broken or missing file must not stop decoding.
  std::vector<rc::Context> context;
  if (std::string_view text = find_embedded("kb/rc_context.json"); !text.empty()) {
    auto loaded = rc::load_context(text);
    if (loaded) context = std::move(*loaded);
    else std::cerr << "tpmdiag rc: warning: " << loaded.error().message << '\n';
  }

  int status = 0;
  std::vector<Row> rows;
  for (const std::string& text : codes) {
    auto code = rc::parse_code(text);
    if (!code) {
      // A TCG name: "TPM_RC_LOCKOUT", or just "lockout".
      auto named = rc::code_from_name(text);
      if (!named) named = rc::code_from_name("TPM_RC_" + text);
      if (!named) {
        status = error(code.error().message + " (nor a TCG name such as TPM_RC_LOCKOUT)");
        continue;
      }
      code = *named;
    } else if (auto hint = decimal_hint(text, *code, context); !hint.empty()) {
      std::cerr << "tpmdiag rc: note: " << hint << '\n';
    }
    rows.push_back({rc::decode(*code), rc::find_context(context, *code, command)});
  }
  if (format == "json") {
    print_json(rows);
  } else {
    Pager pager(term, true);
    std::ostream& out = pager.stream();
    print_text(rows, static_cast<size_t>(output_width(term)), out);
    pager.finish();
  }
  return status;
}

TPMDIAG_COMMAND("rc", "CODE...", "decode TPM 2.0 response codes: 0x9a2, 2466, (0x921)", cmd_rc, 30)

}  // namespace tpmdiag::cli
