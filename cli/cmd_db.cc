// tpmdiag db: questions to the fleet store that 'tpmdiag scan' fills
// (docs/store.md has the schema for sqlite3 users).
#include <cmath>
#include <cstdio>

#include "cli/common.h"
#include "cli/render.h"
#include "common/text.h"
#include "store/store.h"

namespace tpmdiag::cli {

namespace {

const char* kDbHelp = R"(Usage: tpmdiag db summary|hosts|findings|show|prune [OPTIONS]
       tpmdiag db show HOST [OPTIONS]
       tpmdiag db merge --db TARGET SOURCE...

Answers the common questions from the store that 'tpmdiag scan' fills:
  summary     inputs, hosts per verdict, and for each cause how many hosts
              have it as their top cause (open or resolved) and how many as
              a weaker candidate
  hosts       each host: verdict, top cause, ESXi build, BIOS, board, TPM
              vendor/firmware, TPM VIB, input (--cause ID: only hosts with it)
  findings    each finding: host, cause, confidence, verdict, boot, rank
              (1 = the host's top cause in that boot), input
  show HOST   the host's facts, per-boot verdicts, findings with evidence
              lines and fix steps
  prune       forget the inputs whose files or folders are gone
  merge       copy per-worker stores (SOURCE...) into --db TARGET: each input
              from its latest scan, as one scan of everything would give

A host named in several inputs is shown from its latest one (newest
modification time); --all shows every input. --host takes a glob (esx-1*)
or a prefix (esx-1).

Example: which hosts have pcr_bank_sha1_only?
  tpmdiag db hosts --db fleet.db --cause pcr_bank_sha1_only
  sqlite3 fleet.db "select host from findings where cause = 'pcr_bank_sha1_only' and rank = 1"

Exit codes: 0 nothing listed is an open TPM problem, 1 an open problem is
listed, 2 usage error, an unknown cause, or the store cannot be read.

Options)";

std::string conf(double c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", c);
  return buf;
}

double round2(double d) { return std::round(d * 100.0) / 100.0; }

void print_table(std::vector<std::vector<std::string>> rows) {
  for (auto& r : rows)
    for (auto& cell : r) cell = visible(cell);  // hosts and inputs come from logs and bundles
  std::vector<size_t> w;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      std::string cell = r[i];
      if (i + 1 < r.size()) cell.resize(w[i], ' ');
      line += (i ? "  " : "") + cell;
    }
    std::cout << line << "\n";
  }
}

std::string get(const std::map<std::string, std::string>& m, const char* k) {
  auto it = m.find(k);
  return it == m.end() || it->second.empty() ? "-" : it->second;
}

// The verdict as listed: an input read in part says so.
std::string verdict_of(const store::HostRow& h) {
  return h.status == "incomplete" ? h.verdict + " (incomplete)" : h.verdict;
}

// --cause must name a cause the knowledge base or the store knows: a typo
// would otherwise answer "nothing" (exit 0).
bool check_cause(const std::string& cause, const CommonOptions& common, store::Store& db) {
  if (cause.empty()) return true;
  auto engine = load_engine(common);
  if (!engine) return false;
  std::vector<std::string> known = cause_ids(*engine);
  if (auto stored = db.causes()) known.insert(known.end(), stored->begin(), stored->end());
  if (std::find(known.begin(), known.end(), cause) != known.end()) return true;
  std::cerr << "tpmdiag db: error: unknown cause '" << visible(cause) << "'" << did_you_mean(cause, known)
            << " ('tpmdiag kb list' lists them)\n";
  return false;
}


int show_summary(store::Store& db, const std::string& db_path, const store::Filter& filter, bool json) {
  auto s = db.summary(filter);
  if (!s) {
    print_error(s.error().message);
    return 2;
  }
  bool open_problem = s->host_verdicts.count("problem") && s->host_verdicts.at("problem") > 0;
  if (json) {
    JsonWriter w(std::cout, 2);
    w.begin_object();
    w.key("schema_version").integer(kSchemaVersion);
    w.key("scans").integer(s->scans).key("last_scan").string(s->last_scan);
    w.key("scans_running").integer(s->scans_running).key("scans_interrupted").integer(s->scans_interrupted);
    w.key("inputs").integer(s->inputs).key("inputs_error").integer(s->inputs_error);
    w.key("hosts").integer(s->hosts);
    w.key("host_verdicts").begin_object();
    for (const auto& [v, n] : s->host_verdicts) w.key(v).integer(n);
    w.end_object();
    w.key("host_status").begin_object();
    for (const auto& [v, n] : s->host_status) w.key(v).integer(n);
    w.end_object();
    w.key("causes").begin_array();
    for (const auto& c : s->causes)
      w.begin_object().key("cause").string(c.cause).key("open_hosts").integer(c.open_hosts)
          .key("resolved_hosts").integer(c.resolved_hosts).key("candidate_hosts").integer(c.candidate_hosts)
          .end_object();
    w.end_array();
    w.end_object();
    std::cout << "\n";
    return open_problem ? 1 : 0;
  }
  std::cout << "Store " << db_path << ": " << s->inputs << " inputs (" << s->inputs_error << " with errors), "
            << s->hosts << " hosts, " << s->scans << " scans";
  if (s->scans_running) std::cout << " (" << s->scans_running << " running)";
  if (s->scans_interrupted)
    std::cout << " (" << s->scans_interrupted << " interrupted before they ended: scan again to finish)";
  std::cout << ", last " << (s->last_scan.empty() ? "-" : s->last_scan) << "\nHosts:";
  for (const auto& [v, n] : s->host_verdicts) std::cout << " " << v << " " << n << ";";
  for (const auto& [v, n] : s->host_status)
    if (v != "error") std::cout << " (" << n << " " << v << ")";
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows{{"CAUSE", "OPEN", "RESOLVED", "CANDIDATE"}};
  for (const auto& c : s->causes)
    rows.push_back({c.cause, std::to_string(c.open_hosts), std::to_string(c.resolved_hosts),
                    std::to_string(c.candidate_hosts)});
  if (rows.size() > 1) {
    print_table(rows);
    std::cout << "(OPEN, RESOLVED: hosts whose top cause it is; CANDIDATE: hosts where a likelier cause leads)\n";
  } else {
    std::cout << "No findings.\n";
  }
  return open_problem ? 1 : 0;
}

int show_hosts(store::Store& db, const store::Filter& filter, bool json) {
  auto hs = db.hosts(filter);
  if (!hs) {
    print_error(hs.error().message);
    return 2;
  }
  bool open_problem = false;
  for (const auto& h : *hs) open_problem = open_problem || h.verdict == "problem";
  if (json) {
    JsonWriter w(std::cout, 2);
    w.begin_array();
    for (const auto& h : *hs) {
      w.begin_object();
      w.key("host").string(h.host).key("verdict").string(h.verdict).key("status").string(h.status);
      if (h.top_cause.empty()) w.key("top_cause").null(); else w.key("top_cause").string(h.top_cause);
      if (h.top_cause.empty()) w.key("confidence").null(); else w.key("confidence").number(round2(h.top_confidence));
      w.key("input").string(h.input).key("scanned_at").string(h.scanned_at);
      if (h.input_error.empty()) w.key("error").null(); else w.key("error").string(h.input_error);
      w.key("bundle").begin_object();
      for (const auto& [k, v] : h.bundle) w.key(k).string(v);
      w.end_object();
      w.end_object();
    }
    w.end_array();
    std::cout << "\n";
  } else if (hs->empty()) {
    std::cout << "No hosts" << (filter.cause.empty() ? "" : " with " + filter.cause) << ".\n";
  } else {
    std::vector<std::vector<std::string>> rows{
        {"HOST", "VERDICT", "TOP CAUSE", "CONF", "ESXI", "BUILD", "BIOS", "BOARD", "TPM", "TPM VIB", "INPUT"}};
    for (const auto& h : *hs) {
      std::string bios = get(h.bundle, "bios_vendor") + " " + get(h.bundle, "bios_version");
      std::string tpm = get(h.bundle, "tpm_vendor");
      if (h.bundle.count("tpm_firmware")) tpm += " fw " + h.bundle.at("tpm_firmware");
      rows.push_back({h.host.empty() ? "-" : h.host, verdict_of(h), h.top_cause.empty() ? "-" : h.top_cause,
                      h.top_cause.empty() ? "-" : conf(h.top_confidence), get(h.bundle, "esxi_version"),
                      get(h.bundle, "esxi_build"), bios, get(h.bundle, "board_product"), tpm,
                      get(h.bundle, "tpmdriver_vib"), h.input});
    }
    print_table(rows);
  }
  return open_problem ? 1 : 0;
}

int show_findings(store::Store& db, const store::Filter& filter, bool json) {
  auto fs = db.findings(filter);
  if (!fs) {
    print_error(fs.error().message);
    return 2;
  }
  bool open_problem = false;
  for (const auto& f : *fs) open_problem = open_problem || f.verdict == "problem";
  if (json) {
    JsonWriter w(std::cout, 2);
    w.begin_array();
    for (const auto& f : *fs)
      w.begin_object().key("host").string(f.host).key("cause").string(f.cause).key("confidence")
          .number(round2(f.confidence)).key("verdict").string(f.verdict).key("boot").integer(f.boot)
          .key("rank").integer(f.rank).key("input").string(f.input).key("scanned_at").string(f.scanned_at)
          .end_object();
    w.end_array();
    std::cout << "\n";
  } else if (fs->empty()) {
    std::cout << "No findings.\n";
  } else {
    std::vector<std::vector<std::string>> rows{{"HOST", "CAUSE", "CONF", "VERDICT", "BOOT", "RANK", "INPUT", "SCANNED"}};
    for (const auto& f : *fs)
      rows.push_back({f.host.empty() ? "-" : f.host, f.cause, conf(f.confidence), f.verdict, std::to_string(f.boot),
                      std::to_string(f.rank), f.input, f.scanned_at});
    print_table(rows);
  }
  return open_problem ? 1 : 0;
}

int show_host(store::Store& db, const store::Filter& filter, bool json) {
  auto hs = db.show(filter);
  if (!hs) {
    print_error(hs.error().message);
    return 2;
  }
  if (hs->empty()) {
    std::cerr << "tpmdiag db: error: no host matches '" << visible(filter.host) << "' (see 'tpmdiag db hosts')\n";
    return 2;
  }
  bool open_problem = false;
  for (const auto& h : *hs) open_problem = open_problem || h.row.verdict == "problem";
  if (json) {
    JsonWriter w(std::cout, 2);
    w.begin_array();
    for (const auto& h : *hs) {
      w.begin_object();
      w.key("host").string(h.row.host).key("verdict").string(h.row.verdict).key("status").string(h.row.status);
      w.key("input").string(h.row.input).key("input_kind").string(h.input_kind);
      w.key("scanned_at").string(h.row.scanned_at);
      if (h.row.input_error.empty()) w.key("error").null(); else w.key("error").string(h.row.input_error);
      w.key("facts").begin_object();
      for (const auto& [k, v] : h.row.bundle) w.key(k).string(v);
      w.end_object();
      w.key("boots").begin_array();
      for (const auto& b : h.windows)
        w.begin_object().key("boot").integer(b.index).key("first").string(b.first).key("last").string(b.last)
            .key("verdict").string(b.verdict).end_object();
      w.end_array();
      w.key("findings").begin_array();
      for (const auto& f : h.findings) {
        w.begin_object().key("cause").string(f.cause).key("title").string(f.title);
        w.key("confidence").number(round2(f.confidence)).key("verdict").string(f.status);
        w.key("boot").integer(f.boot).key("rank").integer(f.rank);
        if (f.resolved_in) w.key("resolved_in").integer(f.resolved_in); else w.key("resolved_in").null();
        w.key("evidence").begin_array();
        for (const auto& e : f.evidence)
          w.begin_object().key("input").string(e.input).key("line").integer(static_cast<int64_t>(e.line))
              .key("text").string(e.text).end_object();
        w.end_array();
        w.key("fix").begin_array();
        for (const auto& step : f.fix) w.string(step);
        w.end_array();
        w.end_object();
      }
      w.end_array();
      w.end_object();
    }
    w.end_array();
    std::cout << "\n";
    return open_problem ? 1 : 0;
  }
  bool first = true;
  for (const auto& h : *hs) {
    if (!first) std::cout << "\n";
    first = false;
    std::cout << "Host " << visible(h.row.host.empty() ? "-" : h.row.host) << ": " << verdict_of(h.row) << "\n";
    std::cout << "  input " << visible(h.row.input) << " (" << h.input_kind << "), scanned " << h.row.scanned_at << "\n";
    if (!h.row.input_error.empty()) std::cout << "  read " << h.row.status << ": " << visible(h.row.input_error) << "\n";
    if (!h.row.bundle.empty()) {
      std::cout << "\nFacts\n";
      std::vector<std::vector<std::string>> rows;
      for (const auto& [k, v] : h.row.bundle) rows.push_back({"  " + k, v});
      print_table(rows);
    }
    if (!h.windows.empty()) {
      std::cout << "\nBoots\n";
      for (const auto& b : h.windows)
        std::cout << "  boot " << b.index << ": " << (b.first.empty() ? "?" : b.first) << " .. "
                  << (b.last.empty() ? "?" : b.last) << ", " << b.verdict << "\n";
    }
    int n = 0;
    for (const auto& f : h.findings) {
      if (f.rank != 1) continue;  // candidates are listed after
      std::cout << "\n[" << ++n << "] " << f.cause << " — " << visible(f.title) << "\n    " << f.status
                << ", confidence " << conf(f.confidence) << ", boot " << f.boot;
      if (f.resolved_in) std::cout << ", fixed by boot " << f.resolved_in;
      std::cout << "\n    Evidence\n";
      for (const auto& e : f.evidence)
        std::cout << "      " << visible(e.input) << ":" << e.line << "\n        " << visible(e.text) << "\n";
      if (!f.fix.empty()) {
        std::cout << "    Fix\n";
        int step = 0;
        for (const auto& s : f.fix) std::cout << "      " << ++step << ". " << visible(s) << "\n";
      }
    }
    std::vector<std::string> candidates;
    for (const auto& f : h.findings)
      if (f.rank != 1) candidates.push_back(f.cause + " " + conf(f.confidence) + " (boot " + std::to_string(f.boot) + ")");
    if (!candidates.empty()) {
      std::cout << "\nWeaker candidates:";
      for (const auto& c : candidates) std::cout << " " << c << ";";
      std::cout << "\n";
    }
    if (h.findings.empty()) std::cout << "\nNo findings.\n";
  }
  return open_problem ? 1 : 0;
}

int db_prune(const std::string& db_path) {
  auto st = store::Store::open(db_path, store::Store::Mode::write);
  if (!st) {
    print_error(st.error().message);
    return 2;
  }
  auto gone = (*st)->prune();
  if (!gone) {
    print_error(gone.error().message);
    return 2;
  }
  for (const auto& p : *gone) std::cout << "forgot " << visible(p) << " (gone)\n";
  std::cout << gone->size() << " inputs forgotten\n";
  return 0;
}

int db_merge(const std::string& db_path, const std::vector<std::string>& sources, const Args& args) {
  if (sources.empty()) {
    std::cerr << "tpmdiag db: error: merge needs SOURCE stores: tpmdiag db merge --db TARGET SOURCE...\n";
    return 2;
  }
  auto st = store::Store::open(db_path);
  if (!st) {
    print_error(st.error().message);
    return 2;
  }
  std::string command = "tpmdiag db";
  for (const auto& a : args) command += " " + a;
  auto scan = (*st)->begin_scan(command);
  if (!scan) {
    print_error(scan.error().message);
    return 2;
  }
  int rc = 0;
  store::ScanCounts counts;
  for (const auto& src : sources) {
    auto n = (*st)->merge(*scan, src);
    if (!n) {
      print_error(n.error().message);
      ++counts.failed;
      rc = 2;
      continue;
    }
    counts.scanned += *n;
    std::cout << "merged " << *n << " inputs from " << visible(src) << "\n";
  }
  counts.total = counts.scanned + counts.failed;
  if (auto e = (*st)->end_scan(*scan, counts); !e) {
    print_error(e.error().message);
    rc = 2;
  }
  return rc;
}

}  // namespace

int cmd_db(const Args& args) {
  CommonOptions common;
  std::string db_path, what;
  std::vector<std::string> rest;
  store::Filter filter;
  po::options_description d(kDbHelp);
  add_output_options(d, common, "text|json: output format");
  d.add_options()
      ("db", po::value(&db_path), "FILE: the store (default $TPMDIAG_DB)")
      ("cause", po::value(&filter.cause), "ID: only this cause (e.g. pcr_bank_sha1_only)")
      ("host", po::value(&filter.host), "GLOB: only hosts matching it (a glob, or a prefix)")
      ("all", po::bool_switch(&filter.all), "every input of a host (history), not only its latest")
      ("help,h", "show this help");
  add_data_options(d, common);
  po::options_description all;
  all.add(d).add_options()("what", po::value(&what), "question")("rest", po::value(&rest)->composing(), "arguments");
  po::positional_options_description pos;
  pos.add("what", 1).add("rest", -1);
  po::variables_map vm;
  if (!parse_args("db", args, all, &pos, vm)) return 2;
  if (vm.count("help")) {
    print_help(d);
    return 0;
  }
  static const std::vector<std::string> questions = {"summary", "hosts", "findings", "show", "prune", "merge"};
  if (std::find(questions.begin(), questions.end(), what) == questions.end()) {
    std::cerr << "tpmdiag db: error: " << (what.empty() ? "no question" : "unknown question '" + visible(what) + "'")
              << ": use summary, hosts, findings, show, prune or merge" << did_you_mean(what, questions)
              << " (see 'tpmdiag db --help')\n";
    return 2;
  }
  if (what == "show" && !rest.empty()) {
    if (!filter.host.empty() || rest.size() > 1) {
      std::cerr << "tpmdiag db: error: show takes one HOST\n";
      return 2;
    }
    filter.host = rest[0];
    rest.clear();
  }
  if (what == "show" && filter.host.empty()) {
    std::cerr << "tpmdiag db: error: show needs a HOST: tpmdiag db show HOST (see 'tpmdiag db hosts')\n";
    return 2;
  }
  if (what != "merge" && !rest.empty()) {
    std::cerr << "tpmdiag db: error: unexpected argument '" << visible(rest[0]) << "' (see 'tpmdiag db --help')\n";
    return 2;
  }
  if (db_path.empty())
    if (const char* e = std::getenv("TPMDIAG_DB")) db_path = e;
  if (db_path.empty()) {
    std::cerr << "tpmdiag db: error: no store: give --db FILE (or set TPMDIAG_DB)\n";
    return 2;
  }
  if (what == "prune") return db_prune(db_path);
  if (what == "merge") return db_merge(db_path, rest, args);
  auto st = store::Store::open(db_path, store::Store::Mode::read);
  if (!st) {
    print_error(st.error().message);
    return 2;
  }
  store::Store& db = **st;
  if (!check_cause(filter.cause, common, db)) return 2;
  bool json = common.format == "json";
  int rc = what == "summary"  ? show_summary(db, db.path(), filter, json)
           : what == "hosts"  ? show_hosts(db, filter, json)
           : what == "show"   ? show_host(db, filter, json)
                              : show_findings(db, filter, json);
  std::cout.flush();
  return rc;
}

TPMDIAG_COMMAND("db", "summary|hosts|show|...", "ask the fleet store: which hosts have which cause", cmd_db, 24)

}  // namespace tpmdiag::cli
