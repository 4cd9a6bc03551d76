// Loading and checking rule files (format documented in rules/rule.h).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/embedded.h"
#include "common/json_read.h"
#include "rules/rule.h"
#include "common/text.h"
#include "rules/fact.h"

namespace tpmdiag {

namespace {

bool valid_id(std::string_view s, bool allow_dots) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           (allow_dots && (c == '.' || c == '-'));
  });
}

Status parse_rule(simdjson::dom::object o, const std::string& path, size_t index, Rule& r) {
  JsonFields f{path + ": rule #" + std::to_string(index + 1)};
  if (auto s = f.req_string(o, "id", r.id); !s) return s;
  if (!valid_id(r.id, true)) return f.err("id", "'" + r.id + "' must use only a-z 0-9 _ . -");
  f.where = path + ": rule '" + r.id + "'";
  if (auto s = f.only_keys(o, {"id", "title", "source", "pattern", "literals", "fact", "severity",
                               "role", "window", "when", "unless", "meaning", "samples", "note",
                               "references", "fallback"});
      !s)
    return s;
  r.file = path;
  std::string sev = "info", role = "symptom", window;
  std::vector<std::string> sources;
  if (auto s = f.req_string(o, "title", r.title); !s) return s;
  if (auto s = f.req_string(o, "pattern", r.pattern); !s) return s;
  if (auto s = f.req_string(o, "fact", r.fact); !s) return s;
  if (!valid_id(r.fact, false)) return f.err("fact", "'" + r.fact + "' must use only a-z 0-9 _");
  if (auto s = f.req_string(o, "meaning", r.meaning); !s) return s;
  if (auto s = f.opt_strings(o, "source", sources); !s) return s;
  if (auto s = f.opt_strings(o, "literals", r.literals); !s) return s;
  if (auto s = f.opt_string(o, "severity", sev); !s) return s;
  if (auto s = f.opt_string(o, "role", role); !s) return s;
  if (auto s = f.opt_string(o, "window", window); !s) return s;
  if (auto s = f.opt_string_lists(o, "when", r.when); !s) return s;
  if (auto s = f.opt_string_lists(o, "unless", r.unless); !s) return s;
  if (auto s = f.opt_bool(o, "fallback", r.fallback); !s) return s;

  for (auto& src : sources) {
    if (src == "any") continue;
    auto k = kind_from_name(src);
    if (!k) return f.err("source", "unknown log kind '" + src + "'");
    r.sources.push_back(*k);
  }
  for (auto& lit : r.literals)
    if (lit.size() < 3) return f.err("literals", "literal '" + lit + "' is shorter than 3 characters");
  auto sv = severity_from_name(sev);
  if (!sv || *sv == Severity::none) return f.err("severity", "unknown severity '" + sev + "'");
  r.severity = *sv;
  if (role == "symptom") r.role = RuleRole::symptom;
  else if (role == "context") r.role = RuleRole::context;
  else if (role == "benign") r.role = RuleRole::benign;
  else if (role == "success") r.role = RuleRole::success;
  else return f.err("role", "must be symptom, context, benign or success, not '" + role + "'");
  if (window.empty()) r.window = WindowMark::none;
  else if (window == "boot") r.window = WindowMark::boot;
  else if (window == "service") r.window = WindowMark::service;
  else return f.err("window", "must be boot or service, not '" + window + "'");

  simdjson::dom::object samples;
  if (o["samples"].get(samples))
    return f.err("samples", "missing (required: lines that must match and lines that must not)");
  simdjson::dom::array match, nomatch;
  if (samples["match"].get(match)) return f.err("samples.match", "missing or not a list");
  if (samples["nomatch"].get(nomatch)) return f.err("samples.nomatch", "missing or not a list");
  for (auto m : match) {
    RuleSample rs;
    std::string_view line;
    simdjson::dom::object mo;
    if (!m.get(line)) {
      rs.line.assign(line);
    } else if (!m.get(mo)) {
      JsonFields sf = f.nested("samples.match");
      if (auto s = sf.req_string(mo, "line", rs.line); !s) return s;
      if (auto s = sf.opt_string_map(mo, "captures", rs.captures); !s) return s;
    } else {
      return f.err("samples.match", "items must be strings or {\"line\", \"captures\"} objects");
    }
    r.match_samples.push_back(std::move(rs));
  }
  for (auto n : nomatch) {
    std::string_view line;
    if (n.get(line)) return f.err("samples.nomatch", "items must be strings");
    r.nomatch_samples.emplace_back(line);
  }
  if (r.match_samples.empty()) return f.err("samples.match", "needs at least one line that must match");
  if (r.nomatch_samples.empty())
    return f.err("samples.nomatch", "needs at least one line that must not match");
  return ok_status();
}

}  // namespace

std::string_view role_name(RuleRole r) {
  switch (r) {
    case RuleRole::symptom: return "symptom";
    case RuleRole::context: return "context";
    case RuleRole::benign: return "benign";
    case RuleRole::success: return "success";
  }
  return "symptom";
}

bool Rule::applies_to(SourceKind k) const {
  if (sources.empty() || k == SourceKind::unknown) return true;
  return std::find(sources.begin(), sources.end(), k) != sources.end();
}

namespace {
bool field_is(const Fields& fields, const std::string& name, const std::vector<std::string>& values) {
  for (const auto& [k, v] : fields) {
    if (k != name) continue;
    for (const auto& want : values)
      if (iequals(v, want)) return true;
  }
  return false;
}
}  // namespace

bool Rule::accepts(const Fact& f) const {
  if (when.empty() && unless.empty()) return true;
  const Fields fields = f.all_fields();
  for (const auto& [name, values] : when)
    if (!field_is(fields, name, values)) return false;
  if (unless.empty()) return true;
  for (const auto& [name, values] : unless)
    if (!field_is(fields, name, values)) return true;
  return false;
}

Result<std::vector<Rule>> load_rules(const std::vector<DataFile>& files) {
  std::vector<Rule> rules;
  simdjson::dom::parser parser;
  for (const auto& file : files) {
    auto parsed = parse_json_object(parser, file.path, file.text);
    if (!parsed) return parsed.error();
    simdjson::dom::object root = *parsed;
    JsonFields f{file.path};
    if (auto s = f.only_keys(root, {"family", "description", "rules"}); !s) return s.error();
    simdjson::dom::array list;
    if (root["rules"].get(list)) return f.err("rules", "missing or not a list");
    std::set<std::string> ids_here;
    size_t i = 0;
    for (auto item : list) {
      simdjson::dom::object o;
      if (item.get(o)) return make_error(file.path + ": rule #" + std::to_string(i + 1) + ": must be an object");
      Rule r;
      if (auto s = parse_rule(o, file.path, i, r); !s) return s.error();
      if (!ids_here.insert(r.id).second)
        return make_error(file.path + ": rule '" + r.id + "': field 'id': duplicate id in this file");
      auto same = std::find_if(rules.begin(), rules.end(), [&](const Rule& x) { return x.id == r.id; });
      if (same != rules.end()) *same = std::move(r);  // a later file overrides
      else rules.push_back(std::move(r));
      ++i;
    }
  }
  return rules;
}


}  // namespace tpmdiag
