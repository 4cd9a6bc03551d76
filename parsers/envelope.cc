#include "parsers/envelope.h"

#include <simdjson.h>

#include <cstring>

#include "parsers/timestamp.h"

namespace tpmdiag {

struct JsonUnwrapper::Impl {
  simdjson::dom::parser parser;
  std::vector<char> padded;  // the line plus SIMDJSON_PADDING bytes, reused
};

JsonUnwrapper::JsonUnwrapper() : impl_(std::make_unique<Impl>()) {}
JsonUnwrapper::~JsonUnwrapper() = default;

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Looks up a key, or a dotted path through nested objects.
bool lookup(object o, std::string_view key, element& out) {
  if (!o.at_key(key).get(out)) return true;
  size_t dot = key.find('.');
  if (dot == std::string_view::npos) return false;
  element inner;
  object io;
  if (o.at_key(key.substr(0, dot)).get(inner) || inner.get(io)) return false;
  return lookup(io, key.substr(dot + 1), out);
}

bool string_of(element e, std::string_view& out) { return !e.get(out); }

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// The digits of a number value as written: found after `"key"` in the line.
std::string_view raw_number(std::string_view line, std::string_view key) {
  size_t from = 0;
  while (from < line.size()) {
    size_t at = line.find(key, from);
    if (at == std::string_view::npos) return {};
    from = at + key.size();
    if (at == 0 || line[at - 1] != '"' || from >= line.size() || line[from] != '"') continue;
    size_t p = from + 1;
    while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
    if (p >= line.size() || line[p] != ':') continue;
    ++p;
    while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
    size_t q = p;
    while (q < line.size() && (std::strchr("0123456789.eE+-", line[q]) != nullptr && line[q] != '\0')) ++q;
    if (q > p) return line.substr(p, q - p);
  }
  return {};
}

}  // namespace

bool JsonUnwrapper::unwrap(const JsonKeys& keys, std::string_view line, JsonRecord& out) {
  out = JsonRecord{};
  if (line.empty() || line.front() != '{') return false;
  auto& buf = impl_->padded;
  if (buf.size() < line.size() + simdjson::SIMDJSON_PADDING) buf.resize(line.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(buf.data(), line.data(), line.size());
  std::memset(buf.data() + line.size(), 0, simdjson::SIMDJSON_PADDING);
  element doc;
  object o;
  if (impl_->parser.parse(reinterpret_cast<const uint8_t*>(buf.data()), line.size(), false).get(doc) ||
      doc.get(o))
    return false;
  element e;
  bool have_message = false;
  for (const auto& k : keys.message)
    if (lookup(o, k, e) && string_of(e, out.message)) {
      have_message = true;
      break;
    }
  if (!have_message) return false;
  for (const auto& k : keys.host) {
    if (!lookup(o, k, e)) continue;
    object ho;
    if (!e.get(ho)) {
      element n;
      if ((lookup(ho, "name", n) || lookup(ho, "hostname", n)) && string_of(n, out.host) && !out.host.empty()) break;
      continue;
    }
    if (string_of(e, out.host) && !out.host.empty()) break;
  }
  for (const auto& k : keys.program)
    if (lookup(o, k, e) && string_of(e, out.program) && !out.program.empty()) break;
  for (const auto& k : keys.time) {
    if (!lookup(o, k, e)) continue;
    std::string_view s;
    if (string_of(e, s)) {
      out.time_text = s;
      if (all_digits(s)) {
        double v = 0;
        for (char c : s) v = v * 10 + (c - '0');
        out.time_ms = epoch_to_ms(v);
      } else {
        out.time_ms = parse_iso8601(s);
      }
      break;
    }
    double v;
    if (!e.get(v)) {  // int64, uint64 and double all convert
      out.time_ms = epoch_to_ms(v);
      out.time_text = raw_number(line, k);
      break;
    }
  }
  for (const auto& k : keys.severity) {
    if (!lookup(o, k, e)) continue;
    std::string_view s;
    int64_t n;
    if (string_of(e, s)) {
      if (s.size() == 1 && s[0] >= '0' && s[0] <= '7') out.severity_num = s[0] - '0';
      else out.severity_text = s;
      break;
    }
    if (!e.get(n) && n >= 0 && n <= 7) {
      out.severity_num = static_cast<int>(n);
      break;
    }
  }
  return true;
}

std::string_view sd_param(std::string_view sd, std::string_view name, std::string& storage) {
  // Walk the elements; outside quotes look for ` name="`.
  size_t p = 0;
  while (p < sd.size()) {
    char c = sd[p];
    if (c == '"') {  // skip a quoted value we are not interested in
      for (++p; p < sd.size() && sd[p] != '"'; ++p)
        if (sd[p] == '\\') ++p;
      ++p;
      continue;
    }
    if (c == ' ' && sd.compare(p + 1, name.size(), name) == 0 && p + 1 + name.size() + 1 < sd.size() &&
        sd[p + 1 + name.size()] == '=' && sd[p + 2 + name.size()] == '"') {
      size_t begin = p + 3 + name.size(), q = begin;
      bool escaped = false;
      while (q < sd.size() && sd[q] != '"') {
        if (sd[q] == '\\') {
          escaped = true;
          ++q;
        }
        ++q;
      }
      if (q > sd.size()) q = sd.size();
      std::string_view v = sd.substr(begin, q - begin);
      if (!escaped) return v;
      storage.clear();
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size() && (v[i + 1] == '"' || v[i + 1] == '\\' || v[i + 1] == ']')) ++i;
        storage.push_back(v[i]);
      }
      return storage;
    }
    ++p;
  }
  return {};
}

Severity severity_from_syslog(int n) {
  static constexpr Severity kBySyslog[8] = {Severity::emergency, Severity::alert, Severity::critical,
                                            Severity::error,     Severity::warning, Severity::notice,
                                            Severity::info,      Severity::debug};
  return n >= 0 && n <= 7 ? kBySyslog[n] : Severity::none;
}

Severity severity_from_pri(std::string_view pri) {
  if (pri.empty() || pri.size() > 3) return Severity::none;
  int v = 0;
  for (char c : pri) {
    if (c < '0' || c > '9') return Severity::none;
    v = v * 10 + (c - '0');
  }
  return v <= 191 ? severity_from_syslog(v % 8) : Severity::none;
}

}  // namespace tpmdiag
