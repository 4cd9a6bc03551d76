// tpmdiag rules list|test
#include <fstream>

#include "cli/common.h"
#include "cli/render.h"
#include "kb/bundle_info.h"
#include "rules/keyfilter.h"
#include "pipeline/selftest.h"

namespace tpmdiag::cli {

namespace {
const char* kHelp = R"(Usage: tpmdiag rules list [OPTIONS]
       tpmdiag rules test [OPTIONS]
       tpmdiag rules prefilter [OPTIONS]

Rules turn log lines into facts; they are data files (rules/*.json, built in,
plus --rules DIR). Each rule has an id, the log kinds it reads, an RE2 pattern
with named captures, the fact it emits, what the line means, and sample lines
that must and must not match.

  list   one line per rule: id, role, fact, title (--format json for all fields)
  test   run every rule's samples through the real pipeline (format detection,
         literal prefilter, matching) and every log-format sample; prints each
         failure and a final 'N passed, N failed' line
  prefilter  the literals the prefilter searches for: the caseless keys
         scanned over every byte (few and rare is fast), then each exact
         literal with the rules it stands for; with --sample LOG, the keys a
         scan of LOG would use (keys common in its first MiB are avoided)

Exit codes: 0 all good, 1 a sample failed, 2 usage error or a rule file that
does not load (the message names file, rule and field).

Options)";
}

int cmd_rules(const Args& args) {
  CommonOptions o;
  std::string action;
  po::options_description d(kHelp);
  add_output_options(d, o, "text|json: output format (list only)");
  add_data_options(d, o);
  std::string sample_path;
  d.add_options()("sample", po::value(&sample_path), "LOG: prefilter only: choose the keys as for scanning LOG")(
      "help,h", "show this help");
  po::options_description all;
  all.add(d).add_options()("action", po::value(&action), "list|test|prefilter");
  po::positional_options_description pos;
  pos.add("action", 1);
  po::variables_map vm;
  if (!parse_args("rules", args, all, &pos, vm)) return 2;
  if (vm.count("help") || action.empty()) {
    print_help(d);
    return action.empty() && !vm.count("help") ? 2 : 0;
  }
  if (action != "list" && action != "test" && action != "prefilter") {
    std::cerr << "tpmdiag rules: error: unknown action '" << action << "' (use list, test or prefilter)\n";
    return 2;
  }
  auto engine = load_engine(o, action == "test");  // only the test reads the rules' samples
  if (!engine) return 2;
  const auto& rules = engine->matcher().rules();
  if (action == "list") {
    if (o.format == "json") {
      JsonWriter w(std::cout, 2);
      w.begin_array();
      for (const auto& r : rules) {
        w.begin_object();
        w.key("id").string(r.id).key("title").string(r.title).key("file").string(r.file);
        w.key("source").begin_array();
        for (auto k : r.sources) w.string(kind_name(k));
        w.end_array();
        w.key("pattern").string(r.pattern).key("fact").string(r.fact);
        w.key("severity").string(severity_name(r.severity)).key("role").string(role_name(r.role));
        w.key("meaning").string(r.meaning);
        w.end_object();
      }
      w.end_array();
    } else {
      for (const auto& r : rules)
        std::cout << r.id << "  [" << role_name(r.role) << "]  " << r.fact << "  " << r.title << "\n";
      std::cout << rules.size() << " rules, " << engine->matcher().atoms().size() << " prefilter literals\n";
    }
    return 0;
  }
  if (action == "prefilter") {
    const Matcher& m = engine->matcher();
    std::string sample;
    if (!sample_path.empty()) {
      std::ifstream in(sample_path, std::ios::binary);
      if (!in) {
        print_error(sample_path + ": cannot open");
        return 2;
      }
      sample.resize(1 << 20);
      in.read(sample.data(), static_cast<std::streamsize>(sample.size()));
      sample.resize(static_cast<size_t>(in.gcount()));
    }
    if (auto s = m.compile(sample); !s) {
      print_error(s.error().message);
      return 2;
    }
    auto kf = m.key_filter();
    const auto keys = m.keys();
    std::cout << keys.size() << " keys, searched by "
              << (kf ? std::string("the ") + KeyFilter::name(kf->engine()) + " key filter (4-byte window in brackets)"
                     : std::string("Vectorscan"))
              << ":\n";
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string& k = keys[i];
      std::cout << "  '" << k << "'";
      if (kf) std::cout << "  [" << k.substr(std::min(k.size(), kf->window(i)), 4) << "]";
      std::cout << "\n";
    }
    std::cout << m.atoms().size() << " literals:\n";
    for (size_t a = 0; a < m.atoms().size(); ++a) {
      std::cout << "  '" << m.atoms()[a] << "' ->";
      for (int r : m.atom_rules(a)) std::cout << ' ' << rules[static_cast<size_t>(r)].id;
      std::cout << "\n";
    }
    return 0;
  }
  if (auto s = engine->matcher().compile(); !s) {
    print_error(s.error().message);
    return 2;
  }
  auto res = test_rules(engine->matcher(), engine->formats());
  // The embedded bundle spec's patterns compile on first use at run time.
  auto spec = BundleSpec::builtin();
  if (!spec) res.failures.push_back(spec.error().message);
  else if (auto s = (*spec)->check(); !s) res.failures.push_back("kb/bundle-metadata.json: " + s.error().message);
  for (const auto& f : res.failures) std::cout << "FAIL " << f << "\n";
  std::cout << "rules test: " << res.passed << " passed, " << res.failures.size() << " failed\n";
  return res.failures.empty() ? 0 : 1;
}

TPMDIAG_COMMAND("rules", "list|test", "list the rules, or run every rule's sample lines", cmd_rules, 40)

}  // namespace tpmdiag::cli
