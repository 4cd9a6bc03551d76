// tpmdiag db: questions to the fleet store that 'tpmdiag scan' fills
// (docs/store.md has the schema for sqlite3 users).
#include <cmath>
#include <cstdio>

#include "cli/common.h"
#include "cli/render.h"
#include "store/store.h"

namespace tpmdiag::cli {

namespace {

const char* kDbHelp = R"(Usage: tpmdiag db summary|hosts|findings [OPTIONS]

Answers the common questions from the store that 'tpmdiag scan' fills:
  summary     inputs, hosts per verdict, and for each cause how many hosts
              have it open or resolved
  hosts       each host: verdict, top cause, ESXi build, BIOS, board, TPM
              vendor/firmware, TPM VIB (with --cause ID: only hosts with it)
  findings    each finding: host, cause, confidence, verdict, input (the
              `findings` view; --cause ID, --host NAME filter)

Example: which hosts have pcr_bank_sha1_only?
  tpmdiag db hosts --db fleet.db --cause pcr_bank_sha1_only
  sqlite3 fleet.db "select host from findings where cause = 'pcr_bank_sha1_only'"

Exit codes: 0 nothing listed is an open TPM problem, 1 an open problem is
listed, 2 usage error or the store cannot be read.

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

}  // namespace

int cmd_db(const Args& args) {
  CommonOptions common;
  std::string db_path, cause, host, what;
  po::options_description d(kDbHelp);
  add_output_options(d, common, "text|json: output format");
  d.add_options()
      ("db", po::value(&db_path), "FILE: the store (default $TPMDIAG_DB)")
      ("cause", po::value(&cause), "ID: only this cause (e.g. pcr_bank_sha1_only)")
      ("host", po::value(&host), "NAME: only this host (findings)")
      ("help,h", "show this help");
  po::options_description all;
  all.add(d).add_options()("what", po::value(&what), "question");
  po::positional_options_description pos;
  pos.add("what", 1);
  po::variables_map vm;
  if (!parse_args("db", args, all, &pos, vm)) return 2;
  if (vm.count("help")) {
    print_help(d);
    return 0;
  }
  if (what != "summary" && what != "hosts" && what != "findings") {
    std::cerr << "tpmdiag db: error: " << (what.empty() ? "no question" : "unknown question '" + visible(what) + "'")
              << ": use summary, hosts or findings" << did_you_mean(what, {"summary", "hosts", "findings"})
              << " (see 'tpmdiag db --help')\n";
    return 2;
  }
  if (db_path.empty())
    if (const char* e = std::getenv("TPMDIAG_DB")) db_path = e;
  if (db_path.empty()) {
    std::cerr << "tpmdiag db: error: no store: give --db FILE (or set TPMDIAG_DB)\n";
    return 2;
  }
  auto st = store::Store::open(db_path, store::Store::Mode::read);
  if (!st) {
    print_error(st.error().message);
    return 2;
  }
  store::Store& db = **st;
  bool json = common.format == "json";
  bool open_problem = false;
  bool nothing = false;  // hosts or findings: no row

  if (what == "summary") {
    auto s = db.summary();
    if (!s) {
      print_error(s.error().message);
      return 2;
    }
    open_problem = s->host_verdicts.count("problem") && s->host_verdicts.at("problem") > 0;
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
      w.key("causes").begin_array();
      for (const auto& c : s->causes)
        w.begin_object().key("cause").string(c.cause).key("open_hosts").integer(c.open_hosts)
            .key("resolved_hosts").integer(c.resolved_hosts).end_object();
      w.end_array();
      w.end_object();
      std::cout << "\n";
    } else {
      std::cout << "Store " << db_path << ": " << s->inputs << " inputs (" << s->inputs_error << " with errors), "
                << s->hosts << " hosts, " << s->scans << " scans";
      if (s->scans_running) std::cout << " (" << s->scans_running << " running)";
      if (s->scans_interrupted)
        std::cout << " (" << s->scans_interrupted << " interrupted before they ended: scan again to finish)";
      std::cout << ", last " << (s->last_scan.empty() ? "-" : s->last_scan) << "\nHosts:";
      for (const auto& [v, n] : s->host_verdicts) std::cout << " " << v << " " << n << ";";
      std::cout << "\n";
      std::vector<std::vector<std::string>> rows{{"CAUSE", "OPEN", "RESOLVED"}};
      for (const auto& c : s->causes) rows.push_back({c.cause, std::to_string(c.open_hosts), std::to_string(c.resolved_hosts)});
      if (rows.size() > 1) print_table(rows);
      else std::cout << "No findings.\n";
    }
  } else if (what == "hosts") {
    auto hs = db.hosts(cause);
    if (!hs) {
      print_error(hs.error().message);
      return 2;
    }
    for (const auto& h : *hs) open_problem = open_problem || h.verdict == "problem";
    nothing = hs->empty();
    if (json) {
      JsonWriter w(std::cout, 2);
      w.begin_array();
      for (const auto& h : *hs) {
        w.begin_object();
        w.key("host").string(h.host).key("verdict").string(h.verdict);
        if (h.top_cause.empty()) w.key("top_cause").null(); else w.key("top_cause").string(h.top_cause);
        if (h.top_cause.empty()) w.key("confidence").null(); else w.key("confidence").number(round2(h.top_confidence));
        w.key("input").string(h.input).key("status").string(h.status).key("scanned_at").string(h.scanned_at);
        w.key("bundle").begin_object();
        for (const auto& [k, v] : h.bundle) w.key(k).string(v);
        w.end_object();
        w.end_object();
      }
      w.end_array();
      std::cout << "\n";
    } else {
      std::vector<std::vector<std::string>> rows{
          {"HOST", "VERDICT", "TOP CAUSE", "CONF", "ESXI", "BUILD", "BIOS", "BOARD", "TPM", "TPM VIB", "INPUT"}};
      for (const auto& h : *hs) {
        std::string bios = get(h.bundle, "bios_vendor") + " " + get(h.bundle, "bios_version");
        std::string tpm = get(h.bundle, "tpm_vendor");
        if (h.bundle.count("tpm_firmware")) tpm += " fw " + h.bundle.at("tpm_firmware");
        rows.push_back({h.host.empty() ? "-" : h.host, h.verdict, h.top_cause.empty() ? "-" : h.top_cause,
                        h.top_cause.empty() ? "-" : conf(h.top_confidence), get(h.bundle, "esxi_version"),
                        get(h.bundle, "esxi_build"), bios, get(h.bundle, "board_product"), tpm,
                        get(h.bundle, "tpmdriver_vib"), h.input});
      }
      if (hs->empty()) std::cout << "No hosts" << (cause.empty() ? "" : " with " + cause) << ".\n";
      else print_table(rows);
    }
  } else {
    auto fs = db.findings(cause, host);
    if (!fs) {
      print_error(fs.error().message);
      return 2;
    }
    for (const auto& f : *fs) open_problem = open_problem || f.verdict == "problem";
    nothing = fs->empty();
    if (json) {
      JsonWriter w(std::cout, 2);
      w.begin_array();
      for (const auto& f : *fs)
        w.begin_object().key("host").string(f.host).key("cause").string(f.cause).key("confidence")
            .number(round2(f.confidence)).key("verdict").string(f.verdict).key("input").string(f.input)
            .key("scanned_at").string(f.scanned_at).end_object();
      w.end_array();
      std::cout << "\n";
    } else {
      std::vector<std::vector<std::string>> rows{{"HOST", "CAUSE", "CONF", "VERDICT", "INPUT", "SCANNED"}};
      for (const auto& f : *fs)
        rows.push_back({f.host.empty() ? "-" : f.host, f.cause, conf(f.confidence), f.verdict, f.input, f.scanned_at});
      if (fs->empty()) std::cout << "No findings.\n";
      else print_table(rows);
    }
  }
  if (!cause.empty() && nothing) hint_unknown_cause("db", cause);
  std::cout.flush();
  return open_problem ? 1 : 0;
}

TPMDIAG_COMMAND("db", "summary|hosts|findings", "ask the fleet store: which hosts have which cause", cmd_db, 24)

}  // namespace tpmdiag::cli
