// tpmdiag diagnose / explain: the paste and file modes of DESIGN.md §1.
#include <unistd.h>

#include <memory>
#include <sstream>
#include <vector>

#include "cli/common.h"
#include "cli/filters.h"
#include "cli/render.h"
#include "cli/term.h"
#include "pipeline/redact.h"

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

Output: text for people (default); --format json: one JSON document with
schema_version, verdict, hosts[], findings[] (best first), context[],
inputs[] -- documented in docs/json-report.md; --format html: a case report
in one self-contained file (inline CSS and SVG, no script, nothing loaded
from outside) to attach to a ticket; --format md: the same as Markdown.
--timeline prints the per-boot timeline as text. -o FILE writes to FILE.
--redact replaces host names, addresses, serial numbers, UUIDs, user and
vCenter names by tokens (host-1, ip-1, ...) as the logs are read, in every
format; --redact-map FILE keeps the token -> value map (docs/report.md).

Examples of a case report:
  tpmdiag diagnose --format html -o case-1234.html bundle.tgz
  tpmdiag diagnose --format md --redact --redact-map case-1234.map.json bundle.tgz

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

Output: text (default), --format json (the lines as JSON), or --format html
or md: the case report of 'tpmdiag diagnose', whose timeline lists every line.
-o FILE, --redact and --redact-map as for 'tpmdiag diagnose'.

Exit codes: 0 ok, 2 usage error or an input not read to its end.

Limits (docs/limits.md): SIZE is bytes, or with K, M, G (1M = 1048576).

Options)";

struct Parsed {
  CommonOptions common;
  RunOptions run;
  std::vector<std::string> paths;
  OutputFile out;
  std::string redact_map;
  bool redact = false;
  bool reference = false;
  bool verbose = false;
  bool timeline = false;
  TermOptions term;
  FilterOptions filter;
  FilterCounts filtered;  // after the run
};

int parse_run(const std::string& cmd, const Args& args, const char* help, Parsed& p,
              const char* formats) {
  po::options_description d(help);
  add_output_options(d, p.common, formats);
  add_output_file_option(d, p.out.path);
  d.add_options()
      ("redact", po::bool_switch(&p.redact),
       "replace host names, IP and MAC addresses, serial numbers, UUIDs, user and vCenter names by tokens "
       "(host-1, ip-1, ...) as the logs are read; the diagnosis is the same")
      ("redact-map", po::value(&p.redact_map),
       "FILE: with --redact (implied), write the token -> value map to FILE (JSON, readable by you only)");
  d.add_options()
      ("host-name", po::value(&p.run.scan.host), "NAME: host name for lines that do not carry one")
      ("input-format", po::value(&p.run.scan.input_format),
       "NAME: parse every line as this format (e.g. syslog-rfc5424, json-lines, esxi7-vmkernel; "
       "list in docs/formats.md) instead of detecting it per line");
  add_filter_options(d, p.filter);
  add_terminal_options(d, p.term);
  LimitOptions lim;
  add_input_limit_options(d, lim, p.run);
  d.add_options()
      ("min-confidence", po::value(&p.run.diagnose.min_confidence)->default_value(0.2, "0.2"),
       "X: report findings with confidence >= X (0..1)")
      ("timeline", po::bool_switch(&p.timeline),
       "print the per-boot timeline: per host and boot, one line per TPM line with its marker")
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
    print_help(d);
    return 0;
  }
  // Limits out of range would abort on allocation or silently mean "none".
  if (!lim.apply(cmd, vm) || !check_min_confidence(cmd, p.run.diagnose.min_confidence) ||
      !apply_filter_options(cmd, p.filter, p.run.filter) || !check_terminal_options(cmd, p.term))
    return 2;
  // --quiet goes with anything (it wins); --brief is a report of its own.
  if (p.filter.brief && (p.common.format != "text" || p.timeline)) {
    std::cerr << "tpmdiag " << cmd << ": error: --brief is a text report of its own: not with "
              << (p.timeline ? "--timeline" : "--format " + p.common.format) << "\n";
    return 2;
  }
  p.run.scan.prefilter = !p.reference;
  if (!p.redact_map.empty()) p.redact = true;
  if (p.redact) {
    auto spec = RedactSpec::builtin();
    if (!spec) {
      print_error(spec.error().message);
      return 2;
    }
    p.run.redactor = std::make_shared<Redactor>(**spec);
  }
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

// Reads the inputs through the filter; a note when --host left out lines of no named host.
// The report lives until exit, never freed (as the engine, cli/common.cc):
// freeing the facts of a large run took a sixth of its time after the scan.
const Report& run(const std::string& cmd, const Engine& engine, Parsed& p) {
  Run run(engine, p.run);
  for (const auto& path : p.paths) run.add_path(path);
  static auto* kept = new std::vector<std::unique_ptr<Report>>;
  const Report& r = *kept->emplace_back(std::make_unique<Report>(std::move(run).finish()));
  p.filtered = run.filtered();
  hint_host_name(cmd, p.filtered, r.facts.empty());
  return r;
}

void report_input_errors(const Report& r) {
  for (const auto& in : r.inputs)
    if (!in.error.empty()) print_error(in.error);
}

ReportMeta meta_of(const Engine& engine, const Parsed& p) {
  ReportMeta m = report_meta(engine.knowledge(), p.run.redactor.get());
  m.filtered = filter_summary(p.run.filter, p.filtered);
  return m;
}

// The case report, in either markup.
void render_case(const std::string& format, const Report& r, std::ostream& out, const ReportMeta& meta) {
  if (format == "html") render_html(r, out, meta);
  else render_md(r, out, meta);
}

// --redact-map FILE: token -> value, by kind then number.
bool write_redact_map(const std::string& cmd, const Parsed& p) {
  if (p.redact_map.empty()) return true;
  std::ostringstream text;
  JsonWriter w(text, 2);
  w.begin_object();
  for (const auto& [token, value] : p.run.redactor->map()) w.key(token).string(value);
  w.end_object();
  text << '\n';
  return write_private_file(cmd, p.redact_map, text.str());
}

// Writes the output (stdout or -o FILE, opened before the run so that a bad
// path fails at once) with `render`; false after one error line. Text for a
// terminal goes through the pager; --quiet writes nothing.
template <class Render>
bool write_output(const std::string& cmd, Parsed& p, Render&& render) {
  if (!p.filter.quiet) {
    const std::string& fmt = p.common.format;
    Pager pager(p.term, p.out.to_stdout() && fmt == "text");
    render(p.out.to_stdout() ? pager.stream() : p.out.stream());
    pager.finish();
  }
  return p.out.close(cmd) && write_redact_map(cmd, p);
}

TextStyle style(const Parsed& p);

bool colour(const Parsed& p) { return want_color(p.common.color) && (p.common.color == "always" || p.out.to_stdout()); }

TextStyle style(const Parsed& p) {
  return {colour(p), output_width(p.term), p.verbose, filter_summary(p.run.filter, p.filtered)};
}

}  // namespace

int cmd_diagnose(const Args& args) {
  Parsed p;
  if (int rc = parse_run("diagnose", args, kDiagnoseHelp, p, "text|json|jsonl|html|md: report format"); rc >= 0)
    return rc;
  if (p.timeline && p.common.format != "text") {
    std::cerr << "tpmdiag diagnose: error: --timeline is text; the html and md reports hold the timeline already\n";
    return 2;
  }
  auto engine = load_engine(p.common);
  if (!engine) return 2;
  if (!check_input_format("diagnose", *engine, p.run.scan.input_format) || !p.out.open("diagnose", p.paths)) return 2;
  const Report& r = run("diagnose", *engine, p);
  report_input_errors(r);
  if (!r.any_input_read && !r.inputs.empty()) return 2;  // nothing to report but the errors above
  const std::string& fmt = p.common.format;
  bool ok = write_output("diagnose", p, [&](std::ostream& out) {
    FilterNote note{p.run.filter, p.filtered};
    if (fmt == "json") render_json(r, out, true, p.redact, &note);
    else if (fmt == "jsonl") render_jsonl(r, out);
    else if (fmt == "html" || fmt == "md") render_case(fmt, r, out, meta_of(*engine, p));
    else if (p.filter.brief) render_brief(r, out, colour(p));
    else if (p.timeline) render_timeline(r, out, style(p));
    else render_text(r, out, style(p));
  });
  if (!ok) return 2;
  return exit_code(r);
}

int cmd_explain(const Args& args) {
  Parsed p;
  if (int rc = parse_run("explain", args, kExplainHelp, p, "text|json|html|md: output format"); rc >= 0) return rc;
  if (p.common.format == "jsonl") {
    std::cerr << "tpmdiag explain: error: --format jsonl is an option of 'tpmdiag diagnose' (explain: text, json, html, md)\n";
    return 2;
  }
  if (p.timeline) {
    std::cerr << "tpmdiag explain: error: --timeline is an option of 'tpmdiag diagnose'\n";
    return 2;
  }
  auto engine = load_engine(p.common);
  if (!engine) return 2;
  if (!check_input_format("explain", *engine, p.run.scan.input_format) || !p.out.open("explain", p.paths)) return 2;
  const Report& r = run("explain", *engine, p);
  report_input_errors(r);
  const std::string& fmt = p.common.format;
  bool ok = write_output("explain", p, [&](std::ostream& out) {
    if (fmt == "json") render_explain_json(r, out);
    else if (fmt == "html" || fmt == "md") render_case(fmt, r, out, meta_of(*engine, p));
    else if (p.filter.brief) render_brief(r, out, colour(p));
    else render_explain(r, out, style(p));
  });
  if (!ok) return 2;
  return exit_code(r) == 2 ? 2 : 0;
}

TPMDIAG_COMMAND("diagnose", "[PATH...|-]", "diagnose logs: files, folders, .gz, or stdin (-)", cmd_diagnose, 10)
TPMDIAG_COMMAND("explain", "[PATH...|-]", "annotate each TPM line: rule, decoded code, meaning", cmd_explain, 20)

}  // namespace tpmdiag::cli
