#include "kb/bundle_info.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <tuple>

#include "common/embedded.h"
#include "common/json_read.h"
#include "parsers/inputs.h"
#include "common/text.h"

namespace tpmdiag {

namespace {

bool glob_segment(std::string_view s, std::string_view g) {
  // '*' matches any run of characters (within the segment).
  size_t si = 0, gi = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (gi < g.size() && g[gi] == '*') {
      star = gi++;
      mark = si;
    } else if (gi < g.size() && g[gi] == s[si]) {
      ++gi;
      ++si;
    } else if (star != std::string_view::npos) {
      gi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (gi < g.size() && g[gi] == '*') ++gi;
  return gi == g.size();
}

std::string decode(BundleSpec::Decode d, const std::string& v) {
  if (d == BundleSpec::Decode::none) return v;
  unsigned long x = std::strtoul(v.c_str(), nullptr, 16);
  if (d == BundleSpec::Decode::hex_u16_pair)
    return std::to_string((x >> 16) & 0xffff) + "." + std::to_string(x & 0xffff);
  std::string s;  // hex_ascii: big-endian bytes, NULs and spaces dropped
  for (int shift = 24; shift >= 0; shift -= 8) {
    char c = static_cast<char>((x >> shift) & 0xff);
    if (c > ' ' && c < 0x7f) s.push_back(c);
  }
  return s;
}

std::string normalise_bool(std::string v) {
  v = ascii_lower(v);
  if (v == "true" || v == "yes" || v == "1" || v == "on") return "true";
  if (v == "false" || v == "no" || v == "0" || v == "off") return "false";
  return v;
}

// A pattern's error, or "" when it is valid RE2 with the value's capture group.
std::string pattern_error(const LazyRegex& re, bool needs_capture) {
  if (!re.get().ok()) return "bad RE2 pattern: " + re.get().error();
  if (needs_capture && re.get().NumberOfCapturingGroups() < 1) return "needs a capture group: the value";
  return "";
}

}  // namespace

bool path_tail_matches(std::string_view path, std::string_view glob) {
  auto ps = path_segments(path, "/!");
  auto gs = path_segments(glob, "/!");
  if (gs.empty() || gs.size() > ps.size()) return false;
  size_t off = ps.size() - gs.size();
  for (size_t i = 0; i < gs.size(); ++i)
    if (!glob_segment(ps[off + i], gs[i])) return false;
  return true;
}

LazyRegex::LazyRegex(std::string pattern) : pattern_(std::move(pattern)) {}
LazyRegex::~LazyRegex() = default;

const RE2& LazyRegex::get() const {
  std::call_once(once_, [this] {
    RE2::Options o;
    o.set_log_errors(false);
    re_ = std::make_unique<RE2>(pattern_, o);
  });
  return *re_;
}

Result<BundleSpec> BundleSpec::parse(std::string_view json, const std::string& where, bool check_patterns) {
  simdjson::dom::parser parser;
  auto doc = parse_json(parser, where, std::string(json));
  if (!doc) return doc.error();
  simdjson::dom::object root;
  JsonFields top{where};
  if ((*doc).get(root)) return make_error(where + ": must be a JSON object");
  if (auto s = top.only_keys(root, {"about", "schema_version", "max_bytes_per_file", "fields"}); !s) return s.error();
  BundleSpec spec;
  double max_bytes = static_cast<double>(spec.max_bytes_);
  if (auto s = top.opt_number(root, "max_bytes_per_file", max_bytes, 1, 1e12); !s) return s.error();
  spec.max_bytes_ = static_cast<uint64_t>(max_bytes);
  simdjson::dom::array fields;
  if (root["fields"].get(fields)) return top.err("fields", "must be a list");
  size_t fi = 0;
  for (auto fe : fields) {
    JsonFields f{where + ": fields[" + std::to_string(fi++) + "]"};
    simdjson::dom::object fo;
    if (fe.get(fo)) return make_error(f.where + ": must be an object");
    if (auto s = f.only_keys(fo, {"field", "title", "type", "sources", "note"}); !s) return s.error();
    Field field;
    if (auto s = f.req_string(fo, "field", field.name); !s) return s.error();
    f.where = where + ": field '" + field.name + "'";
    if (auto s = f.opt_string(fo, "title", field.title); !s) return s.error();
    std::string type = "string";
    if (auto s = f.opt_string(fo, "type", type); !s) return s.error();
    if (type == "string") field.type = Type::string;
    else if (type == "list") field.type = Type::list;
    else if (type == "bool") field.type = Type::boolean;
    else if (type == "presence") field.type = Type::presence;
    else return f.err("type", "must be string, list, bool or presence");
    simdjson::dom::array sources;
    if (fo["sources"].get(sources)) return f.err("sources", "must be a list");
    size_t si = 0;
    for (auto se : sources) {
      JsonFields sf = f.nested("sources[" + std::to_string(si++) + "]");
      simdjson::dom::object so;
      if (se.get(so)) return sf.err("", "must be an object");
      if (auto s = sf.only_keys(so, {"file", "pattern", "section", "within", "decode", "fact", "capture", "note"}); !s)
        return s.error();
      Source src;
      std::string pattern, section, dec;
      if (auto s = sf.opt_string(so, "file", src.file); !s) return s.error();
      if (auto s = sf.opt_string(so, "fact", src.fact); !s) return s.error();
      if (auto s = sf.opt_string(so, "capture", src.capture); !s) return s.error();
      if (auto s = sf.opt_string(so, "pattern", pattern); !s) return s.error();
      if (auto s = sf.opt_string(so, "section", section); !s) return s.error();
      if (auto s = sf.opt_string(so, "decode", dec); !s) return s.error();
      double within = 0;
      if (auto s = sf.opt_number(so, "within", within, 0, 10000); !s) return s.error();
      src.within = static_cast<int>(within);
      if (src.file.empty() == src.fact.empty()) return sf.err("file", "give either 'file' (with 'pattern') or 'fact' (with 'capture')");
      if (!src.file.empty()) {
        if (pattern.empty()) return sf.err("pattern", "required with 'file'");
        src.pattern = std::make_shared<const LazyRegex>(pattern);
        if (check_patterns)
          if (auto e = pattern_error(*src.pattern, true); !e.empty()) return sf.err("pattern", e);
        if (!section.empty()) {
          src.section = std::make_shared<const LazyRegex>(section);
          if (check_patterns)
            if (auto e = pattern_error(*src.section, false); !e.empty()) return sf.err("section", e);
          if (src.within <= 0) return sf.err("within", "required (> 0) with 'section'");
        }
      } else if (src.capture.empty()) {
        return sf.err("capture", "required with 'fact'");
      }
      if (dec.empty() || dec == "none") src.decode = Decode::none;
      else if (dec == "hex_ascii") src.decode = Decode::hex_ascii;
      else if (dec == "hex_u16_pair") src.decode = Decode::hex_u16_pair;
      else return sf.err("decode", "must be hex_ascii or hex_u16_pair");
      field.sources.push_back(std::move(src));
    }
    if (field.sources.empty()) return f.err("sources", "must list at least one source");
    spec.fields_.push_back(std::move(field));
  }
  return spec;
}

Result<const BundleSpec*> BundleSpec::builtin() {
  static const Result<BundleSpec> spec = [] {
    std::string_view text = find_embedded("kb/bundle-metadata.json");
    if (text.empty()) return Result<BundleSpec>(make_error("kb/bundle-metadata.json: not embedded in this build"));
    return parse(text, "kb/bundle-metadata.json", false);
  }();
  if (!spec) return spec.error();
  return &*spec;
}

Status BundleSpec::check() const {
  for (const auto& f : fields_)
    for (size_t i = 0; i < f.sources.size(); ++i) {
      const Source& s = f.sources[i];
      std::string where = "field '" + f.name + "': sources[" + std::to_string(i) + "]";
      if (s.pattern)
        if (auto e = pattern_error(*s.pattern, true); !e.empty()) return make_error(where + ": field 'pattern': " + e);
      if (s.section)
        if (auto e = pattern_error(*s.section, false); !e.empty()) return make_error(where + ": field 'section': " + e);
    }
  return ok_status();
}

bool BundleSpec::wants(std::string_view name) const {
  for (const auto& f : fields_)
    for (const auto& s : f.sources)
      if (!s.file.empty() && path_tail_matches(name, s.file)) return true;
  return false;
}

// ---------------------------------------------------------------------------

struct BundleInfo::FileState {
  struct Active {
    const BundleSpec::Field* field;
    size_t priority;
    const BundleSpec::Source* source;
    int section_left = 0;  // lines left in the current section (section sources)
  };
  std::vector<Active> active;
  std::string partial;
  uint64_t seen = 0;
  uint64_t max_bytes = 0;
};

std::shared_ptr<BundleInfo::FileState> BundleInfo::begin_file(const std::string& name) {
  auto st = std::make_shared<FileState>();
  st->max_bytes = spec_.max_bytes_per_file();
  for (const auto& f : spec_.fields())
    for (size_t i = 0; i < f.sources.size(); ++i) {
      const auto& s = f.sources[i];
      if (s.file.empty() || !path_tail_matches(name, s.file)) continue;
      st->active.push_back({&f, i, &s, 0});
      if (f.type == BundleSpec::Type::presence) presence_seen_.insert(f.name);
    }
  if (st->active.empty()) return nullptr;
  return st;
}

void BundleInfo::set(const BundleSpec::Field& f, size_t priority, std::string value) {
  auto it = found_.find(f.name);
  if (f.type == BundleSpec::Type::list) {
    auto& fd = found_[f.name];
    if (std::find(fd.list.begin(), fd.list.end(), value) == fd.list.end()) fd.list.push_back(std::move(value));
    return;
  }
  if (it != found_.end() && it->second.priority <= priority) return;  // a better source already spoke
  if (f.type == BundleSpec::Type::boolean) value = normalise_bool(std::move(value));
  if (f.type == BundleSpec::Type::presence) value = "true";
  found_[f.name] = {priority, std::move(value), {}};
}

void BundleInfo::line(FileState& st, std::string_view text) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  re2::StringPiece sp(text.data(), text.size());
  for (auto& a : st.active) {
    const auto& s = *a.source;
    if (s.section) {
      if (RE2::PartialMatch(sp, s.section->get())) {
        a.section_left = s.within;
        continue;
      }
      if (a.section_left <= 0) continue;
      --a.section_left;
    }
    std::string v;
    if (!RE2::PartialMatch(sp, s.pattern->get(), &v)) continue;
    v = decode(s.decode, v);
    if (v.empty()) continue;
    set(*a.field, a.priority, std::move(v));
    if (s.section) a.section_left = 0;  // first value of the section
  }
}

class WatchSource : public ByteSource {
 public:
  WatchSource(BundleInfo& info, std::shared_ptr<BundleInfo::FileState> st, ByteSource& src)
      : info_(info), st_(std::move(st)), src_(src) {}
  Result<size_t> read(char* buf, size_t cap) override {
    auto n = src_.read(buf, cap);
    if (!n) return n;
    if (*n == 0) {
      flush();
      return n;
    }
    feed(buf, *n);
    return n;
  }
  uint64_t raw_bytes() const override { return src_.raw_bytes(); }

 private:
  void feed(const char* p, size_t n) {
    auto& st = *st_;
    if (st.seen >= st.max_bytes) return;
    n = static_cast<size_t>(std::min<uint64_t>(n, st.max_bytes - st.seen));
    st.seen += n;
    std::string_view chunk(p, n);
    size_t start = 0;
    for (;;) {
      size_t nl = chunk.find('\n', start);
      if (nl == std::string_view::npos) break;
      if (st.partial.empty()) {
        info_.line(st, chunk.substr(start, nl - start));
      } else {
        st.partial.append(chunk.substr(start, nl - start));
        info_.line(st, st.partial);
        st.partial.clear();
      }
      start = nl + 1;
    }
    if (st.partial.size() < 65536) st.partial.append(chunk.substr(start, std::min<size_t>(chunk.size() - start, 65536)));
  }
  void flush() {
    if (!st_->partial.empty()) info_.line(*st_, st_->partial);
    st_->partial.clear();
  }

  BundleInfo& info_;
  std::shared_ptr<BundleInfo::FileState> st_;
  ByteSource& src_;
};

std::unique_ptr<ByteSource> BundleInfo::watch(const std::string& name, ByteSource& src) {
  auto st = begin_file(name);
  if (!st) return borrow(src);
  return std::make_unique<WatchSource>(*this, std::move(st), src);
}

void BundleInfo::add_text(const std::string& name, std::string_view text) {
  auto src = memory_source(std::string(text));
  auto w = watch(name, *src);
  char buf[4096];
  for (;;) {
    auto n = w->read(buf, sizeof buf);
    if (!n || *n == 0) break;
  }
}

void BundleInfo::add_facts(const std::vector<Fact>& facts) {
  std::vector<const Fact*> all;
  all.reserve(facts.size());
  for (const auto& f : facts) all.push_back(&f);
  add_facts(all);
}

void BundleInfo::add_facts(const std::vector<const Fact*>& facts) {
  for (const auto& f : spec_.fields())
    for (size_t i = 0; i < f.sources.size(); ++i) {
      const auto& s = f.sources[i];
      if (s.fact.empty()) continue;
      const Fact* best = nullptr;
      for (const Fact* fp : facts) {
        const Fact& fact = *fp;
        if (!fact.rule || fact.rule->fact != s.fact || fact.field(s.capture).empty()) continue;
        if (!best || std::tie(fact.input_seq, fact.line) > std::tie(best->input_seq, best->line)) best = &fact;
      }
      if (best) set(f, i, decode(s.decode, std::string(best->field(s.capture))));
    }
}

std::map<std::string, std::string> BundleInfo::fields() const {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : found_) {
    if (!v.list.empty()) {
      std::string joined;
      for (const auto& x : v.list) joined += (joined.empty() ? "" : ", ") + x;
      out[k] = joined;
    } else {
      out[k] = v.value;
    }
  }
  for (const auto& k : presence_seen_)
    if (!out.count(k)) out[k] = "false";
  return out;
}

}  // namespace tpmdiag
