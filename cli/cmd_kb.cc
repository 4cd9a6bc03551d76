// tpmdiag kb list|show ID
#include "cli/common.h"
#include "cli/render.h"
#include "cli/term.h"

namespace tpmdiag::cli {

namespace {
const char* kHelp = R"(Usage: tpmdiag kb list [OPTIONS]
       tpmdiag kb show ID [OPTIONS]

The knowledge base: every cause tpmdiag can name (kb/causes/*.json, built in,
plus --kb DIR), with what it means, the evidence that points to it, the fix,
how to confirm it, and the public sources.

  list      one line per cause: id and title (--format json: every field)
  show ID   one cause in full (--format json: with its evidence model)

Exit codes: 0 ok, 2 usage error, unknown ID, or a cause file that does not load.

Options)";

// Wrapped to the terminal (cli/term.h); URLs stay whole.
void show_text(const Cause& c, std::ostream& out, size_t width) {
  hang(out, c.id + " — " + c.title, 0, 2, width);
  out << "\n";
  if (!c.summary.empty()) {
    wrap(out, c.summary, 0, width);
    out << "\n";
  }
  out << "What it means:\n";
  wrap(out, c.meaning, 2, width);
  out << "\nHow to confirm:\n";
  wrap(out, c.check, 2, width);
  out << "\nFix:\n";
  int i = 1;
  for (const auto& s : c.fix) hang(out, std::to_string(i++) + ". " + (s.otherwise.empty() ? s.text : s.otherwise), 2, 5, width);
  if (!c.vendor_notes.empty()) {
    out << "\nVendor notes:\n";
    for (const auto& v : c.vendor_notes) hang(out, v.vendor + ": " + v.note, 2, 4, width);
  }
  out << "\nReferences:\n";
  for (const auto& r : c.references) reference(out, r.url, r.title, 2, width);
  if (!c.inference.empty()) {
    out << "\nOur inference (not stated by a source):\n";
    for (const auto& s : c.inference) hang(out, "- " + s, 2, 4, width);
  }
}
}  // namespace

int cmd_kb(const Args& args) {
  CommonOptions o;
  std::vector<std::string> pos_args;
  po::options_description d(kHelp);
  add_output_options(d, o, "text|json: output format");
  add_data_options(d, o);
  TermOptions term;
  add_terminal_options(d, term);
  d.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(d).add_options()("args", po::value(&pos_args), "list|show ID");
  po::positional_options_description pos;
  pos.add("args", -1);
  po::variables_map vm;
  if (!parse_args("kb", args, all, &pos, vm)) return 2;
  if (vm.count("help") || pos_args.empty()) {
    print_help(d);
    return vm.count("help") ? 0 : 2;
  }
  if (!check_terminal_options("kb", term)) return 2;
  const std::string& action = pos_args[0];
  if (!(action == "list" && pos_args.size() == 1) && !(action == "show" && pos_args.size() == 2)) {
    std::cerr << "tpmdiag kb: error: use 'kb list' or 'kb show ID'" << did_you_mean(action, {"list", "show"})
              << " (see 'tpmdiag kb --help')\n";
    return 2;
  }
  auto engine = load_engine(o);
  if (!engine) return 2;
  if (action == "list") {
    if (o.format == "json") {
      JsonWriter w(std::cout, 2);
      w.begin_array();
      for (const auto& c : engine->causes()) write_cause(w, c, true);
      w.end_array();
    } else {
      for (const auto& c : engine->causes()) std::cout << c.id << "  " << c.title << "\n";
      std::cout << engine->causes().size() << " causes\n";
    }
    return 0;
  }
  const Cause* c = engine->cause(pos_args[1]);
  if (!c) {
    std::cerr << "tpmdiag kb: error: no cause with id '" << visible(pos_args[1]) << "'"
              << did_you_mean(pos_args[1], cause_ids(*engine)) << " (see 'tpmdiag kb list')\n";
    return 2;
  }
  if (o.format == "json") {
    JsonWriter w(std::cout, 2);
    write_cause(w, *c, true);
  } else {
    Pager pager(term, true);
    show_text(*c, pager.stream(), static_cast<size_t>(output_width(term)));
    pager.finish();
  }
  return 0;
}

TPMDIAG_COMMAND("kb", "list|show ID", "the knowledge base: causes, fixes and sources", cmd_kb, 50)

}  // namespace tpmdiag::cli
