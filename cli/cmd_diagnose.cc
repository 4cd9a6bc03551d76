// tpmdiag diagnose / explain: the paste and file modes of DESIGN.md §1.
#include <unistd.h>

#include <map>

#include "cli/common.h"
#include "cli/render.h"
#include "parsers/timestamp.h"

namespace tpmdiag::cli {

namespace {

const char* kDiagnoseHelp = R"(Usage: tpmdiag diagnose [OPTIONS] [PATH...|-]

Reads ESXi logs and says why the host fails TPM attestation: the cause, the
lines that prove it (file:line, TPM return codes decoded), how to fix it, and
the public sources. TPM lines that are harmless are explained too, so nobody
chases them.

Inputs (any mix; all are diagnosed together, per host and per boot):
  FILE          vmkernel.log, vmkwarning.log, hostd.log, vobd.log, vpxd.log, ...
  FILE.gz       rotated logs (vmkernel.0.gz ...), read as streams
  DIR           a folder (e.g. an extracted vm-support bundle), walked
                recursively; rotated logs are read oldest first
  -             standard input (also the default when stdin is a pipe), e.g.
                lines pasted from a ticket, a KB article or the vCenter UI

Lines may come in any ESXi 6.5-8.x shape, or bare with no prefix.

Examples:
  tpmdiag diagnose /var/run/log/vmkernel.log /var/run/log/hostd.log
  xclip -o | tpmdiag diagnose -
  tpmdiag diagnose --format json esx-host1-2024-01-01--10.00-123/ | jq '.findings[0]'

Output: text for people (default), or --format json: one JSON document with
schema_version, verdict, hosts[], findings[] (best first), context[],
inputs[] -- documented in docs/json-report.md.

Verdicts: problem (a TPM fault is open, or a TPM line reads like a failure
that no rule explains), resolved (a later boot shows it fixed), healthy (no
fault, and a line proves the TPM works), no_tpm_evidence (no fault, and
nothing proves the TPM works).

Exit codes:
  0  no open TPM problem (healthy, resolved, or no TPM evidence)
  1  a TPM problem was found
  2  usage error, bad rule/cause file, or an input not read to its end (each
     is one line on stderr; the report of what was read is still printed,
     marked INCOMPLETE)

Limits (docs/limits.md): SIZE is bytes, or with K, M, G (1M = 1048576).

Options)";

const char* kExplainHelp = R"(Usage: tpmdiag explain [OPTIONS] [PATH...|-]

Annotates every TPM-related line of the input with the rule that recognised
it, its role (symptom, context, benign, success), its decoded TPM return code
and what it means. Use it to read a log line by line; use 'diagnose' for the
verdict. Inputs as for 'tpmdiag diagnose'.

Exit codes: 0 ok, 2 usage error or an input not read to its end.

Limits (docs/limits.md): SIZE is bytes, or with K, M, G (1M = 1048576).

Options)";

struct Parsed {
  CommonOptions common;
  RunOptions run;
  std::vector<std::string> paths;
  bool reference = false;
  bool verbose = false;
};

int parse_run(const std::string& cmd, const Args& args, const char* help, Parsed& p,
              const char* formats) {
  po::options_description d(help);
  add_output_options(d, p.common, formats);
  d.add_options()
      ("host", po::value(&p.run.scan.host), "NAME: host name for lines that do not carry one")
      ("input-format", po::value(&p.run.scan.input_format),
       "NAME: parse every line as this format (e.g. syslog-rfc5424, json-lines, esxi7-vmkernel; "
       "list in docs/formats.md) instead of detecting it per line");
  LimitOptions lim;
  add_input_limit_options(d, lim, p.run);
  d.add_options()
      ("min-confidence", po::value(&p.run.diagnose.min_confidence)->default_value(0.2, "0.2"),
       "X: report findings with confidence >= X (0..1)")
      ("verbose,v", po::bool_switch(&p.verbose),
       "also show the fix steps of an uncertain cause, and name the files not read")
      ("reference", po::bool_switch(&p.reference),
       "parse and match every line without the literal prefilter (slow; for testing)")
      ("help,h", "show this help");
  add_data_options(d, p.common);
  po::options_description all;
  all.add(d).add_options()("path", po::value(&p.paths)->composing(), "input");
  po::positional_options_description pos;
  pos.add("path", -1);
  po::variables_map vm;
  if (!parse_args(cmd, args, all, &pos, vm)) return 2;
  if (vm.count("help")) {
    std::cout << d << '\n';
    return 0;
  }
  // Limits out of range would abort on allocation or silently mean "none".
  if (!lim.apply(cmd, vm) || !check_min_confidence(cmd, p.run.diagnose.min_confidence)) return 2;
  p.run.scan.prefilter = !p.reference;
  if (p.paths.empty()) {
    if (isatty(STDIN_FILENO)) {
      std::cerr << "tpmdiag " << cmd << ": error: no input: name log files or folders, or pipe logs into '-' "
                << "(see 'tpmdiag " << cmd << " --help')\n";
      return 2;
    }
    p.paths.push_back("-");
  }
  return -1;
}

// An unknown --input-format is a usage error that lists the known names.
bool check_input_format(const std::string& cmd, const Engine& engine, const std::string& name) {
  if (name.empty() || name == "auto" || engine.formats().find(name)) return true;
  std::string known;
  for (const auto& f : engine.formats().formats()) known += (known.empty() ? "" : ", ") + f.name;
  std::cerr << "tpmdiag " << cmd << ": error: unknown --input-format '" << name << "' (known: auto, " << known
            << ")\n";
  return false;
}

void report_input_errors(const Report& r) {
  for (const auto& in : r.inputs)
    if (!in.error.empty()) print_error(in.error);
}

}  // namespace

int cmd_diagnose(const Args& args) {
  Parsed p;
  if (int rc = parse_run("diagnose", args, kDiagnoseHelp, p, "text|json: report format"); rc >= 0) return rc;
  if (!check_format("diagnose", p.common.format, {"text", "json"})) return 2;
  auto engine = load_engine(p.common);
  if (!engine) return 2;
  if (!check_input_format("diagnose", *engine, p.run.scan.input_format)) return 2;
  Report r = run_inputs(*engine, p.paths, p.run);
  report_input_errors(r);
  if (!r.any_input_read && !r.inputs.empty()) return 2;  // nothing to report but the errors above
  if (p.common.format == "json") render_json(r, std::cout, true);
  else render_text(r, std::cout, {want_color(p.common.color), 100, p.verbose});
  std::cout.flush();
  return exit_code(r);
}

int cmd_explain(const Args& args) {
  Parsed p;
  if (int rc = parse_run("explain", args, kExplainHelp, p, "text|json: output format"); rc >= 0) return rc;
  if (!check_format("explain", p.common.format, {"text", "json"})) return 2;
  auto engine = load_engine(p.common);
  if (!engine) return 2;
  if (!check_input_format("explain", *engine, p.run.scan.input_format)) return 2;
  Report r = run_inputs(*engine, p.paths, p.run);
  report_input_errors(r);
  bool color = want_color(p.common.color);
  std::map<const Fact*, std::vector<std::string>> evidence_of;
  for (const auto& f : r.findings)
    for (const Fact* e : f.evidence) evidence_of[e].push_back(f.cause->id);
  if (p.common.format == "json") {
    JsonWriter w(std::cout, 2);
    w.begin_array();
    for (const auto& h : r.hosts)
      for (const auto& b : h.boots)
        for (const Fact* f : b.facts) {
          write_fact(w, *f);
        }
    w.end_array();
  } else {
    for (const auto& h : r.hosts) {
      for (const auto& b : h.boots) {
        std::cout << "== host " << (h.host.empty() ? "(not named)" : visible(h.host)) << ", boot " << b.index << " ==\n";
        for (const Fact* f : b.facts) {
          std::string loc = visible(f->input) + ":" + std::to_string(f->line);
          std::cout << (color ? "\x1b[36m" + loc + "\x1b[0m" : loc) << "  " << visible(f->text) << "\n";
          std::cout << "    rule " << f->rule->id << " (" << role_name(f->rule->role) << "): " << f->rule->meaning << "\n";
          if (!f->field("rc").empty()) {
            static const DecodedRc kNone;
            const DecodedRc& d = f->rc ? *f->rc : kNone;
            // Streamed piece by piece: `" " + std::string(...)` trips GCC 12's
            // -Wrestrict false positive at -O3 (-Werror in CI).
            std::cout << "    rc " << f->field("rc") << " = " << d.name << " (" << d.kind;
            if (f->rc && d.index != 0) std::cout << ' ' << d.index;
            std::cout << "): " << d.description << "\n";
          }
          auto it = evidence_of.find(f);
          if (it != evidence_of.end()) {
            std::string ids;
            for (const auto& id : it->second) ids += (ids.empty() ? "" : ", ") + id;
            std::cout << "    evidence for: " << ids << "\n";
          }
        }
      }
    }
    if (r.hosts.empty()) std::cout << "No TPM-related lines found.\n";
  }
  return exit_code(r) == 2 ? 2 : 0;
}

TPMDIAG_COMMAND("diagnose", "[PATH...|-]", "diagnose logs: files, folders, .gz, or stdin (-)", cmd_diagnose, 10)
TPMDIAG_COMMAND("explain", "[PATH...|-]", "annotate each TPM line: rule, decoded code, meaning", cmd_explain, 20)

}  // namespace tpmdiag::cli
