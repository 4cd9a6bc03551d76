#include <algorithm>

#include "common/json_read.h"
#include "kb/cause.h"

namespace tpmdiag {

namespace {

bool valid_id(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Status parse_condition(simdjson::dom::element e, const JsonFields& outer, const std::string& field,
                       const std::vector<std::string>& known, Condition& c) {
  JsonFields f = outer.nested(field);
  simdjson::dom::object o;
  if (e.get(o)) return outer.err(field, "conditions must be objects");
  if (auto s = f.only_keys(o, {"fact", "where", "all", "weight", "firm", "note"}); !s) return s;
  if (auto s = f.opt_number(o, "weight", c.weight, 0.0, 1.0); !s) return s;
  if (auto s = f.opt_bool(o, "firm", c.firm); !s) return s;
  simdjson::dom::array all;
  if (!o["all"].get(all)) {
    size_t i = 0;
    for (auto sub : all) {
      Condition sc;
      if (auto s = parse_condition(sub, f, "all[" + std::to_string(i++) + "]", known, sc); !s) return s;
      c.all.push_back(std::move(sc));
    }
    if (c.all.empty()) return f.err("all", "must list at least one condition");
    return ok_status();
  }
  if (auto s = f.req_string(o, "fact", c.fact); !s) return s;
  if (!known.empty() && std::find(known.begin(), known.end(), c.fact) == known.end())
    return f.err("fact", "'" + c.fact + "' is emitted by no rule");
  if (auto s = f.opt_string_lists(o, "where", c.where); !s) return s;
  return ok_status();
}

Status parse_conditions(simdjson::dom::object o, const char* key, const JsonFields& f,
                        const std::string& prefix, const std::vector<std::string>& known,
                        std::vector<Condition>& out) {
  simdjson::dom::element e;
  if (o[key].get(e)) return ok_status();
  simdjson::dom::array a;
  std::string field = prefix + key;
  if (e.get(a)) return f.err(field, "must be a list of conditions");
  size_t i = 0;
  for (auto item : a) {
    Condition c;
    if (auto s = parse_condition(item, f, field + "[" + std::to_string(i++) + "]", known, c); !s) return s;
    out.push_back(std::move(c));
  }
  return ok_status();
}

Status parse_cause(simdjson::dom::object o, const std::string& path,
                   const std::vector<std::string>& known, Cause& c) {
  JsonFields f{path};
  if (auto s = f.req_string(o, "id", c.id); !s) return s;
  if (!valid_id(c.id)) return f.err("id", "'" + c.id + "' must be snake_case (a-z 0-9 _)");
  f.where = path + ": cause '" + c.id + "'";
  if (auto s = f.only_keys(o, {"id", "title", "summary", "meaning", "evidence", "resolved_by", "check",
                               "fix", "vendor_notes", "references", "inference", "note"});
      !s)
    return s;
  c.file = path;
  if (auto s = f.req_string(o, "title", c.title); !s) return s;
  if (auto s = f.req_string(o, "meaning", c.meaning); !s) return s;
  if (auto s = f.opt_string(o, "summary", c.summary); !s) return s;
  if (auto s = f.req_string(o, "check", c.check); !s) return s;
  if (auto s = f.opt_strings(o, "inference", c.inference); !s) return s;

  simdjson::dom::object ev;
  if (o["evidence"].get(ev)) return f.err("evidence", "missing or not an object");
  if (auto s = f.nested("evidence").only_keys(ev, {"prior", "trigger", "support", "contradict", "note"}); !s)
    return s;
  if (auto s = f.nested("evidence").opt_number(ev, "prior", c.prior, 0.0, 1.0); !s) return s;
  if (auto s = parse_conditions(ev, "trigger", f, "evidence.", known, c.trigger); !s) return s;
  if (c.trigger.empty())
    return f.err("evidence.trigger", "needs at least one condition (a cause without a trigger is never considered)");
  if (auto s = parse_conditions(ev, "support", f, "evidence.", known, c.support); !s) return s;
  if (auto s = parse_conditions(ev, "contradict", f, "evidence.", known, c.contradict); !s) return s;
  if (auto s = parse_conditions(o, "resolved_by", f, "", known, c.resolved_by); !s) return s;

  simdjson::dom::array fix;
  if (o["fix"].get(fix)) return f.err("fix", "missing: a cause needs fix steps");
  for (auto step : fix) {
    FixStep fs;
    std::string_view sv;
    simdjson::dom::object so;
    if (!step.get(sv)) {
      fs.text.assign(sv);
    } else if (!step.get(so)) {
      if (auto s = f.nested("fix").req_string(so, "text", fs.text); !s) return s;
      if (auto s = f.nested("fix").req_string(so, "else", fs.otherwise); !s) return s;
    } else {
      return f.err("fix", "steps must be strings or {\"text\", \"else\"} objects");
    }
    c.fix.push_back(std::move(fs));
  }
  if (c.fix.empty()) return f.err("fix", "needs at least one step");

  simdjson::dom::array refs;
  if (o["references"].get(refs)) return f.err("references", "missing: every cause cites a public source");
  for (auto r : refs) {
    simdjson::dom::object ro;
    if (r.get(ro)) return f.err("references", "items must be {\"url\", \"title\"} objects");
    Reference ref;
    if (auto s = f.nested("references").req_string(ro, "url", ref.url); !s) return s;
    if (ref.url.rfind("https://", 0) != 0 && ref.url.rfind("http://", 0) != 0)
      return f.err("references", "url '" + ref.url + "' must start with https:// or http://");
    if (auto s = f.opt_string(ro, "title", ref.title); !s) return s;
    if (auto s = f.opt_string(ro, "note", ref.note); !s) return s;
    c.references.push_back(std::move(ref));
  }
  if (c.references.empty()) return f.err("references", "needs at least one public URL");

  simdjson::dom::array notes;
  if (!o["vendor_notes"].get(notes)) {
    for (auto n : notes) {
      simdjson::dom::object no;
      if (n.get(no)) return f.err("vendor_notes", "items must be objects");
      VendorNote vn;
      if (auto s = f.nested("vendor_notes").req_string(no, "vendor", vn.vendor); !s) return s;
      if (auto s = f.nested("vendor_notes").req_string(no, "note", vn.note); !s) return s;
      if (auto s = f.opt_string(no, "source", vn.source); !s) return s;
      c.vendor_notes.push_back(std::move(vn));
    }
  }
  return ok_status();
}

}  // namespace

Result<std::vector<Cause>> load_causes(const std::vector<DataFile>& files,
                                       const std::vector<std::string>& known_facts) {
  std::vector<Cause> causes;
  simdjson::dom::parser parser;
  for (const auto& file : files) {
    auto doc = parse_json(parser, file.path, file.text);
    if (!doc) return doc.error();
    simdjson::dom::object o;
    if (doc->get(o)) return make_error(file.path + ": top level must be an object (one cause per file)");
    Cause c;
    if (auto s = parse_cause(o, file.path, known_facts, c); !s) return s.error();
    auto same = std::find_if(causes.begin(), causes.end(), [&](const Cause& x) { return x.id == c.id; });
    if (same != causes.end()) *same = std::move(c);
    else causes.push_back(std::move(c));
  }
  std::sort(causes.begin(), causes.end(), [](const Cause& a, const Cause& b) { return a.id < b.id; });
  return causes;
}

}  // namespace tpmdiag
