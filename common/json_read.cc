#include "common/json_read.h"

#include <algorithm>
#include <cstdio>

namespace tpmdiag {

Status JsonFields::req_string(simdjson::dom::object o, const char* key, std::string& out) const {
  simdjson::dom::element e;
  if (o[key].get(e)) return err(key, "missing (required)");
  std::string_view s;
  if (e.get(s)) return err(key, "must be a string");
  if (s.empty()) return err(key, "must not be empty");
  out.assign(s);
  return ok_status();
}

Status JsonFields::opt_string(simdjson::dom::object o, const char* key, std::string& out) const {
  simdjson::dom::element e;
  if (o[key].get(e)) return ok_status();
  std::string_view s;
  if (e.get(s)) return err(key, "must be a string");
  out.assign(s);
  return ok_status();
}

Status JsonFields::opt_strings(simdjson::dom::object o, const char* key,
                               std::vector<std::string>& out) const {
  simdjson::dom::element e;
  if (o[key].get(e)) return ok_status();
  std::string_view s;
  if (!e.get(s)) {  // a single string is accepted as a one-element list
    out.emplace_back(s);
    return ok_status();
  }
  simdjson::dom::array a;
  if (e.get(a)) return err(key, "must be a string or a list of strings");
  size_t i = 0;
  for (auto item : a) {
    if (item.get(s)) return err(key, "item " + std::to_string(i) + " must be a string");
    out.emplace_back(s);
    ++i;
  }
  return ok_status();
}

Status JsonFields::opt_bool(simdjson::dom::object o, const char* key, bool& out) const {
  simdjson::dom::element e;
  if (o[key].get(e)) return ok_status();  // absent: keep the default
  if (e.get(out)) return err(key, "must be true or false");
  return ok_status();
}

Status JsonFields::opt_number(simdjson::dom::object o, const char* key, double& out, double lo,
                              double hi) const {
  simdjson::dom::element e;
  if (o[key].get(e)) return ok_status();
  double d;
  if (e.get(d)) {
    int64_t i;
    if (e.get(i)) return err(key, "must be a number");
    d = static_cast<double>(i);
  }
  if (d < lo || d > hi) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "must be between %g and %g", lo, hi);
    return err(key, buf);
  }
  out = d;
  return ok_status();
}

Status JsonFields::opt_string_map(simdjson::dom::object o, const char* key,
                                  std::map<std::string, std::string>& out) const {
  simdjson::dom::element e;
  if (o[key].get(e)) return ok_status();
  simdjson::dom::object m;
  if (e.get(m)) return err(key, "must be an object of strings");
  for (auto [k, v] : m) {
    std::string_view s;
    if (v.get(s)) return err(std::string(key) + "." + std::string(k), "must be a string");
    out[std::string(k)] = std::string(s);
  }
  return ok_status();
}

Status JsonFields::opt_string_lists(simdjson::dom::object o, const char* key,
                                    std::map<std::string, std::vector<std::string>>& out) const {
  simdjson::dom::element e;
  if (o[key].get(e)) return ok_status();
  simdjson::dom::object m;
  if (e.get(m)) return err(key, "must be an object");
  for (auto [k, v] : m) {
    std::string name = std::string(key) + "." + std::string(k);
    std::vector<std::string> values;
    std::string_view s;
    simdjson::dom::array a;
    if (!v.get(s)) {
      values.emplace_back(s);
    } else if (!v.get(a)) {
      for (auto item : a) {
        if (item.get(s)) return err(name, "values must be strings");
        values.emplace_back(s);
      }
    } else {
      return err(name, "must be a string or a list of strings");
    }
    out[std::string(k)] = std::move(values);
  }
  return ok_status();
}

Status JsonFields::only_keys(simdjson::dom::object o,
                             std::initializer_list<std::string_view> known) const {
  for (auto [k, v] : o) {
    (void)v;
    if (std::find(known.begin(), known.end(), k) == known.end())
      return err(k, "unknown field (typo?)");
  }
  return ok_status();
}

Result<simdjson::dom::element> parse_json(simdjson::dom::parser& parser, const std::string& path,
                                          const std::string& text) {
  simdjson::dom::element doc;
  auto error = parser.parse(text).get(doc);
  if (error)
    return make_error(path + ": invalid JSON: " + std::string(simdjson::error_message(error)));
  return doc;
}

Result<simdjson::dom::object> parse_json_object(simdjson::dom::parser& parser, const std::string& path,
                                                const std::string& text) {
  auto doc = parse_json(parser, path, text);
  if (!doc) return doc.error();
  simdjson::dom::object root;
  if (doc->get(root)) return make_error(path + ": top level must be an object");
  return root;
}

}  // namespace tpmdiag
