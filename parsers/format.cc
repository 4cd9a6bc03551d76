#include "parsers/format.h"

#include "common/json_read.h"
#include "parsers/timestamp.h"

namespace tpmdiag {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

int group_index(const RE2& re, const char* name) {
  auto& m = re.NamedCapturingGroups();
  auto it = m.find(name);
  return it == m.end() ? -1 : it->second;
}

}  // namespace

bool FormatSet::try_format(const Format& f, std::string_view line, Event& ev) const {
  constexpr int kMaxGroups = 24;
  re2::StringPiece groups[kMaxGroups];
  int n = std::min(f.re->NumberOfCapturingGroups() + 1, kMaxGroups);
  if (!f.re->Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::ANCHOR_BOTH,
                   groups, n))
    return false;
  auto get = [&](int i) -> std::string_view {
    if (i < 0 || i >= n || groups[i].data() == nullptr) return {};
    return std::string_view(groups[i].data(), groups[i].size());
  };
  ev.kind = f.kind;
  if (auto p = get(f.program); !p.empty()) {
    auto it = programs_.find(p);
    if (it != programs_.end()) ev.kind = it->second;
  }
  ev.ts_text = get(f.ts);
  ev.ts_ms = ev.ts_text.empty() ? std::nullopt : parse_iso8601(ev.ts_text);
  if (auto l = get(f.level); !l.empty()) {
    auto it = levels_.find(l);
    ev.severity = it == levels_.end() ? Severity::none : it->second;
  }
  if (auto h = get(f.host); !h.empty() && h != "-") ev.host = h;
  ev.component = get(f.component);
  ev.message = f.message >= 0 ? trim(get(f.message)) : line;
  return true;
}

void FormatSet::parse(std::string_view line, Event& ev) const {
  ev.raw = line;
  line = trim(line);
  ev.kind = SourceKind::unknown;
  ev.host = {};
  ev.ts_ms.reset();
  ev.ts_text = {};
  ev.severity = Severity::none;
  ev.component = {};
  ev.message = line;
  for (const auto& f : formats_)
    if (try_format(f, line, ev)) return;
}

std::vector<std::string> FormatSet::self_test() const {
  std::vector<std::string> failures;
  for (const auto& f : formats_) {
    for (const auto& s : f.samples) {
      Event ev;
      parse(s.line, ev);
      auto fail = [&](const std::string& what) {
        failures.push_back(f.file + ": format '" + f.name + "': sample \"" + s.line + "\": " + what);
      };
      for (const auto& [field, want] : s.fields) {
        std::string got;
        if (field == "kind") got = kind_name(ev.kind);
        else if (field == "severity") got = severity_name(ev.severity);
        else if (field == "host") got = ev.host;
        else if (field == "component") got = ev.component;
        else if (field == "message") got = ev.message;
        else if (field == "ts") got = ev.ts_ms ? format_iso8601(*ev.ts_ms) : "none";
        else { fail("unknown field '" + field + "' in expectation"); continue; }
        if (got != want) fail(field + " is '" + got + "', expected '" + want + "'");
      }
    }
  }
  return failures;
}

Result<FormatSet> load_formats(const std::vector<DataFile>& files) {
  FormatSet set;
  simdjson::dom::parser parser;
  for (const auto& file : files) {
    auto doc = parse_json(parser, file.path, file.text);
    if (!doc) return doc.error();
    simdjson::dom::object root;
    if (doc->get(root)) return make_error(file.path + ": top level must be an object");
    JsonFields f{file.path};
    if (auto s = f.only_keys(root, {"description", "levels", "programs", "formats"}); !s) return s.error();
    std::map<std::string, std::string> levels, programs;
    if (auto s = f.opt_string_map(root, "levels", levels); !s) return s.error();
    if (auto s = f.opt_string_map(root, "programs", programs); !s) return s.error();
    for (auto& [k, v] : levels) {
      auto sev = severity_from_name(v);
      if (!sev) return f.err("levels." + k, "unknown severity '" + v + "'");
      set.levels_[k] = *sev;
    }
    for (auto& [k, v] : programs) {
      auto kind = kind_from_name(v);
      if (!kind) return f.err("programs." + k, "unknown log kind '" + v + "'");
      set.programs_[k] = *kind;
    }
    simdjson::dom::array list;
    if (root["formats"].get(list)) continue;
    size_t i = 0;
    for (auto item : list) {
      simdjson::dom::object o;
      JsonFields ff{file.path + ": format #" + std::to_string(++i)};
      if (item.get(o)) return make_error(ff.where + ": must be an object");
      Format fmt;
      fmt.file = file.path;
      if (auto s = ff.req_string(o, "name", fmt.name); !s) return s.error();
      ff.where = file.path + ": format '" + fmt.name + "'";
      if (auto s = ff.only_keys(o, {"name", "kind", "description", "pattern", "samples"}); !s) return s.error();
      std::string kind = "unknown", pattern;
      if (auto s = ff.opt_string(o, "kind", kind); !s) return s.error();
      auto k = kind_from_name(kind);
      if (!k) return ff.err("kind", "unknown log kind '" + kind + "'");
      fmt.kind = *k;
      if (auto s = ff.req_string(o, "pattern", pattern); !s) return s.error();
      RE2::Options opts;
      opts.set_log_errors(false);
      fmt.re = std::make_unique<RE2>(pattern, opts);
      if (!fmt.re->ok()) return ff.err("pattern", "invalid RE2 regex: " + fmt.re->error());
      fmt.ts = group_index(*fmt.re, "ts");
      fmt.level = group_index(*fmt.re, "level");
      fmt.program = group_index(*fmt.re, "program");
      fmt.host = group_index(*fmt.re, "host");
      fmt.component = group_index(*fmt.re, "component");
      fmt.message = group_index(*fmt.re, "message");
      simdjson::dom::array samples;
      if (o["samples"].get(samples)) return ff.err("samples", "missing: every format ships sample lines");
      for (auto sm : samples) {
        simdjson::dom::object so;
        if (sm.get(so)) return ff.err("samples", "items must be {\"line\", \"fields\"} objects");
        FormatSample fs;
        if (auto s = ff.req_string(so, "line", fs.line); !s) return s.error();
        if (auto s = ff.opt_string_map(so, "fields", fs.fields); !s) return s.error();
        fmt.samples.push_back(std::move(fs));
      }
      if (fmt.samples.empty()) return ff.err("samples", "needs at least one sample line");
      set.formats_.push_back(std::move(fmt));
    }
  }
  return set;
}

}  // namespace tpmdiag
