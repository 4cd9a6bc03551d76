#include "parsers/format.h"

#include <algorithm>
#include <atomic>
#include <re2/set.h>

#include "common/json_read.h"
#include "parsers/timestamp.h"
#include "parsers/trailing_any.h"

namespace tpmdiag {

namespace {

constexpr int kMaxGroups = 24;
constexpr size_t kManyNos = 6;  // heads saying no that cost about what RE2::Set does

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t' || s.back() == '\0'))
    s.remove_suffix(1);
  if (s.size() >= 3 && s.compare(0, 3, "\xEF\xBB\xBF") == 0) s.remove_prefix(3);  // UTF-8 BOM
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

int group_index(const RE2& re, const char* name) {
  auto& m = re.NamedCapturingGroups();
  auto it = m.find(name);
  return it == m.end() ? -1 : it->second;
}

}  // namespace

struct FormatGroups {
  re2::StringPiece g[kMaxGroups];
  int n = 0;
  std::string_view get(int i) const {
    if (i < 0 || i >= n || g[i].data() == nullptr) return {};
    return std::string_view(g[i].data(), g[i].size());
  }
  // Syslog NIL ("-") reads as empty.
  std::string_view nil(int i) const {
    auto v = get(i);
    return v == "-" ? std::string_view{} : v;
  }
};

namespace {

using Groups = FormatGroups;

// Sized for f's captures; false if f's pattern does not compile.
bool size_for(const Format& f, Groups& g) {
  const RE2* re = f.compiled();
  if (!re) return false;
  g.n = std::min(re->NumberOfCapturingGroups() + 1, kMaxGroups);
  return true;
}

bool match(const Format& f, std::string_view line, Groups& g, bool known) {
  return size_for(f, g) && f.match(line, g.g, g.n, false, known);
}

void reset(Event& ev, std::string_view line) {
  ev.kind = SourceKind::unknown;
  ev.host = {};
  ev.ts_ms.reset();
  ev.ts_text = {};
  ev.severity = Severity::none;
  ev.component = {};
  ev.message = line;
  ev.program = {};
  ev.proc_id = {};
  ev.continuation = false;
}

// `-->` opens a continuation line's payload.
void set_message(Event& ev, std::string_view msg) {
  msg = trim(msg);
  if (msg.size() >= 3 && msg.compare(0, 3, "-->") == 0) {
    ev.continuation = true;
    msg.remove_prefix(3);
    msg = trim(msg);
  }
  ev.message = msg;
}

std::optional<int64_t> timestamp_of(std::string_view text) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
  return parse_iso8601(text);
}

}  // namespace

Severity FormatSet::level_of(std::string_view text) const {
  if (text.empty()) return Severity::none;
  auto it = levels_.find(text);
  if (it != levels_.end()) return it->second;
  char low[16];
  if (text.size() > sizeof low) return Severity::none;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    low[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  it = levels_.find(std::string_view(low, text.size()));
  return it == levels_.end() ? Severity::none : it->second;
}

SourceKind FormatSet::kind_of_program(std::string_view program) const {
  auto it = programs_.find(program);
  return it == programs_.end() ? SourceKind::unknown : it->second;
}

const RE2* Format::compiled() const {
  if (pattern.empty()) return nullptr;
  std::call_once(*once, [this] {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto r = std::make_unique<RE2>(pattern, opts);
    if (!r->ok()) {
      error = "invalid RE2 regex: " + r->error();
      return;
    }
    if (r->NumberOfCapturingGroups() + 1 > kMaxGroups) {
      error = "more than " + std::to_string(kMaxGroups - 1) + " capture groups";
      return;
    }
    message = group_index(*r, "message");
    if (type == FormatType::envelope && message < 0) {
      error = "an envelope needs a (?P<message>...) capture: its payload";
      return;
    }
    ts = group_index(*r, "ts");
    level = group_index(*r, "level");
    pri = group_index(*r, "pri");
    program = group_index(*r, "program");
    pid = group_index(*r, "pid");
    host = group_index(*r, "host");
    component = group_index(*r, "component");
    sd = group_index(*r, "sd");
    cont = group_index(*r, "cont");
    if (auto t = split_trailing_any(pattern)) {
      head_pattern = std::move(t->head);
      head_spanning = std::move(t->spanning);
      fast_head = HeadMatcher::compile(head_pattern);
      if (fast_head && fast_head->groups() != r->NumberOfCapturingGroups()) fast_head.reset();
    }
    re = std::move(r);
  });
  return re.get();
}

const RE2* Format::compiled_head() const {
  std::call_once(*head_once, [this] {
    if (head_pattern.empty() || !compiled()) return;
    RE2::Options opts;
    opts.set_log_errors(false);
    auto h = std::make_unique<RE2>(head_pattern, opts);
    if (h->ok() && h->NumberOfCapturingGroups() == re->NumberOfCapturingGroups()) head = std::move(h);
  });
  return head.get();
}

bool Format::spans_rest(std::string_view line, re2::StringPiece* g, int n) const {
  const char* end = line.data() + line.size();
  const char* matched = g[0].data() + g[0].size();
  if (!any_matches_all(std::string_view(matched, static_cast<size_t>(end - matched)))) return false;
  g[0] = re2::StringPiece(line.data(), line.size());
  for (int i : head_spanning)
    if (i < n && g[i].data()) g[i] = re2::StringPiece(g[i].data(), static_cast<size_t>(end - g[i].data()));
  return true;
}

// Every match of the pattern is one of the head followed by `.*` (the split
// is exact): no start of the line the head matches, no match of the pattern.
Format::Quick Format::quick(std::string_view line, re2::StringPiece* g, int n) const {
  if (n < 1 || !compiled() || !fast_head) return Quick::unknown;
  switch (fast_head->match(line, g, n)) {
    case HeadMatcher::Result::no_match: return Quick::no;
    case HeadMatcher::Result::gave_up: return Quick::unknown;
    case HeadMatcher::Result::match: break;
  }
  return spans_rest(line, g, n) ? Quick::yes : Quick::unknown;
}

bool Format::match(std::string_view line, re2::StringPiece* g, int n, bool reference, bool known) const {
  const RE2* r = compiled();
  if (!r) return false;
  if (!reference) {
    Quick q = quick(line, g, n);
    if (q != Quick::unknown) return q == Quick::yes;
  }
  re2::StringPiece text(line.data(), line.size());
  // Without captures RE2 runs its DFA, ~10x faster than the engines that
  // capture: it says no to the formats a line is not in.
  if (!known && !r->Match(text, 0, line.size(), RE2::ANCHOR_BOTH, nullptr, 0)) return false;
  const RE2* head = reference ? nullptr : compiled_head();
  // The head's first match from the line's start, with its captures: RE2's
  // capturing engine stops at the head's end (for a line too long for it,
  // RE2 finds that end with its DFA first and captures within it).
  if (n >= 1 && head && head->Match(text, 0, line.size(), RE2::ANCHOR_START, g, n) && spans_rest(line, g, n))
    return true;
  return r->Match(text, 0, line.size(), RE2::ANCHOR_BOTH, g, n);
}

bool FormatSet::fill(const Format& f, std::string_view line, const Groups& g, Event& ev, ParseScratch& s) const {
  if (f.type == FormatType::envelope) return fill_envelope(f, g, ev, s);
  fill_regex(f, line, g, ev, s);
  return true;
}

void FormatSet::fill_regex(const Format& f, std::string_view line, const Groups& g, Event& ev, ParseScratch& s) const {
  ev.kind = f.kind;
  ev.program = g.nil(f.program);
  ev.proc_id = g.nil(f.pid);
  if (auto k = kind_of_program(ev.program); k != SourceKind::unknown) ev.kind = k;
  ev.ts_text = g.get(f.ts);
  ev.ts_ms = timestamp_of(ev.ts_text);
  ev.severity = level_of(g.get(f.level));
  if (ev.severity == Severity::none) ev.severity = severity_from_pri(g.get(f.pri));
  ev.host = g.nil(f.host);
  ev.component = g.get(f.component);
  if (ev.component.empty() && f.sd >= 0) ev.component = sd_param(g.get(f.sd), "sub", s.sd_);
  if (f.message >= 0) set_message(ev, g.get(f.message));
  else ev.message = line;
  if (!g.get(f.cont).empty()) ev.continuation = true;
}

bool FormatSet::fill_envelope(const Format& f, const Groups& g, Event& ev, ParseScratch& s) const {
  // A header time that is not ISO 8601 must be a valid RFC 3164 one (month
  // names checked by hand), or the line is not this envelope.
  std::string_view ts = g.nil(f.ts);
  if (!ts.empty() && !timestamp_of(ts) && (ts[0] < '0' || ts[0] > '9') && !parse_rfc3164(ts)) return false;
  std::string_view payload = f.message >= 0 ? trim(g.get(f.message)) : std::string_view{};
  if (payload.size() >= 3 && payload.compare(0, 3, "\xEF\xBB\xBF") == 0) payload.remove_prefix(3);
  Event in;
  reset(in, payload);
  parse_at(payload, in, s, Depth::payload, nullptr);

  std::string_view program = g.nil(f.program);
  SourceKind tag_kind = kind_of_program(program);
  ev.kind = tag_kind != SourceKind::unknown ? tag_kind : in.kind != SourceKind::unknown ? in.kind : f.kind;
  ev.host = g.nil(f.host);
  if (ev.host.empty()) ev.host = in.host;
  if (in.ts_ms) {
    ev.ts_ms = in.ts_ms;
    ev.ts_text = in.ts_text;
  } else if (auto t = timestamp_of(ts)) {
    ev.ts_ms = t;
    ev.ts_text = ts;
  } else {
    ev.ts_ms.reset();  // RFC 3164 (no year) or a placeholder: text only
    ev.ts_text = !in.ts_text.empty() ? in.ts_text : ts;
  }
  ev.severity = in.severity;
  if (ev.severity == Severity::none) ev.severity = level_of(g.get(f.level));
  if (ev.severity == Severity::none) ev.severity = severity_from_pri(g.get(f.pri));
  ev.component = in.component;
  if (ev.component.empty() && f.sd >= 0) ev.component = sd_param(g.get(f.sd), "sub", s.sd_);
  if (ev.component.empty()) ev.component = g.get(f.component);
  ev.program = !program.empty() ? program : in.program;
  ev.proc_id = g.nil(f.pid);
  if (ev.proc_id.empty()) ev.proc_id = in.proc_id;
  ev.continuation = in.continuation || !g.get(f.cont).empty();
  ev.message = in.message;
  return true;
}

bool FormatSet::try_json(const Format& f, std::string_view line, Event& ev, ParseScratch& s) const {
  JsonRecord rec;
  if (!s.json_.unwrap(f.keys, line, rec)) return false;
  std::string_view msg = trim(rec.message);
  Event in;
  reset(in, msg);
  parse_at(msg, in, s, Depth::json_payload, nullptr);
  SourceKind prog_kind = kind_of_program(rec.program);
  ev.kind = prog_kind != SourceKind::unknown ? prog_kind : in.kind;
  if (ev.kind == SourceKind::unknown && !rec.program.empty()) ev.kind = SourceKind::syslog;
  if (ev.kind == SourceKind::unknown) ev.kind = f.kind;
  ev.host = !in.host.empty() ? in.host : rec.host;
  if (in.ts_ms) {
    ev.ts_ms = in.ts_ms;
    ev.ts_text = in.ts_text;
  } else if (rec.time_ms) {
    ev.ts_ms = rec.time_ms;
    ev.ts_text = rec.time_text;
  } else {
    ev.ts_ms.reset();
    ev.ts_text = !in.ts_text.empty() ? in.ts_text : rec.time_text;
  }
  ev.severity = in.severity;
  if (ev.severity == Severity::none) ev.severity = level_of(rec.severity_text);
  if (ev.severity == Severity::none) ev.severity = severity_from_syslog(rec.severity_num);
  ev.component = in.component;
  ev.program = !in.program.empty() ? in.program : rec.program;
  ev.proc_id = in.proc_id;
  ev.continuation = in.continuation;
  ev.message = in.message;
  return true;
}

const Format* FormatSet::parse_at(std::string_view line, Event& ev, ParseScratch& s, Depth depth,
                                  const Format* only) const {
  auto attempt = [&](const Format& f, bool known) {
    if (f.type == FormatType::json) return try_json(f, line, ev, s);
    Groups g;
    return match(f, line, g, known) && fill(f, line, g, ev, s);
  };
  auto skipped = [&](const Format& f) {
    return (f.type == FormatType::json && (depth != Depth::top || line.empty() || line.front() != '{')) ||
           (f.type == FormatType::envelope && depth == Depth::payload);
  };
  if (only) return attempt(*only, false) ? only : nullptr;
  // Most lines are decided by the formats' fast heads (Format::quick), asked
  // in order: each says no within a few bytes, without RE2::Set reading the
  // whole line. The first that cannot say sends the line to the set. When
  // one could not say, or many said no first (each ~50 ns; the set ~3 ns a
  // byte), the next 63 lines at this depth go to the set first: the same
  // no's would be spent again (an RFC 5424 line: 2.0 -> 3.4 us without this).
  uint32_t& set_first = s.set_first_[static_cast<size_t>(depth)];
  bool quick = quick_first_;
  if (quick && set_first > 0) {
    --set_first;
    quick = false;
  }
  size_t said_no = 0;
  auto decided_late = [&] {
    if (said_no >= kManyNos) set_first = 63;
  };
  for (size_t i = 0; quick && i < formats_.size(); ++i) {
    const Format& f = formats_[i];
    if (skipped(f)) continue;
    if (f.type == FormatType::json) {  // no pattern: asked in either path
      if (attempt(f, false)) return &f;
      continue;
    }
    Groups g;
    if (!size_for(f, g)) continue;  // never matches
    switch (f.quick(line, g.g, g.n)) {
      case Format::Quick::no: ++said_no; break;
      case Format::Quick::yes:
        if (fill(f, line, g, ev, s)) {
          decided_late();
          return &f;
        }
        break;
      case Format::Quick::unknown:
        quick = false;
        set_first = 63;
        break;
    }
  }
  if (quick) {
    decided_late();
    return nullptr;
  }
  const std::optional<uint64_t> hits = detect(line, s);
  for (size_t i = 0; i < formats_.size(); ++i) {
    const Format& f = formats_[i];
    if (skipped(f)) continue;
    const bool known = hits && f.type != FormatType::json;
    if (known && !(*hits >> i & 1)) continue;
    if (attempt(f, known)) return &f;
  }
  return nullptr;
}

struct FormatSet::Detect {
  uint64_t after = 1000;  // lines parsed before the set is compiled
  std::atomic<uint64_t> lines{0};
  std::atomic<bool> ready{false};
  std::once_flag once;
  std::unique_ptr<RE2::Set> set;
  std::vector<size_t> format_of;  // the set's pattern i is formats_[format_of[i]]
};

FormatSet::FormatSet() : detect_(std::make_unique<Detect>()) {}
FormatSet::~FormatSet() = default;
void FormatSet::detect_after(uint64_t lines) { detect_->after = lines; }
FormatSet::FormatSet(FormatSet&&) noexcept = default;
FormatSet& FormatSet::operator=(FormatSet&&) noexcept = default;

std::optional<uint64_t> FormatSet::detect(std::string_view line, ParseScratch& s) const {
  Detect& d = *detect_;
  if (!d.ready.load(std::memory_order_acquire)) {
    if (d.after == UINT64_MAX || d.lines.fetch_add(1, std::memory_order_relaxed) < d.after) return std::nullopt;
    std::call_once(d.once, [&] {
      if (formats_.size() > 64) return;
      RE2::Options o;
      o.set_log_errors(false);
      o.set_max_mem(32 << 20);
      auto set = std::make_unique<RE2::Set>(o, RE2::ANCHOR_BOTH);
      for (size_t i = 0; i < formats_.size(); ++i) {
        const Format& f = formats_[i];
        if (f.type == FormatType::json || !f.compiled()) continue;  // json: no pattern; else it never matches
        if (set->Add(f.pattern, nullptr) < 0) return;
        d.format_of.push_back(i);
      }
      if (!set->Compile()) return;
      d.set = std::move(set);
      d.ready.store(true, std::memory_order_release);
    });
    if (!d.ready.load(std::memory_order_acquire)) return std::nullopt;
  }
  auto& got = s.set_hits_;
  got.clear();
  RE2::Set::ErrorInfo err{};
  if (!d.set->Match(re2::StringPiece(line.data(), line.size()), &got, &err) && err.kind != RE2::Set::kNoError)
    return std::nullopt;  // out of memory on this line: ask each format
  uint64_t hits = 0;
  for (int h : got) hits |= uint64_t{1} << d.format_of[static_cast<size_t>(h)];
  return hits;
}

const Format* FormatSet::parse(std::string_view line, Event& ev, ParseScratch& scratch, const Format* only) const {
  ev.raw = line;
  line = trim(line);
  reset(ev, line);
  const Format* f = parse_at(line, ev, scratch, Depth::top, only);
  if (!f) reset(ev, line);  // a forced format that failed may have left parts
  return f;
}

const Format* FormatSet::parse(std::string_view line, Event& ev) const {
  thread_local ParseScratch scratch;
  return parse(line, ev, scratch);
}

const Format* FormatSet::find(std::string_view name) const {
  for (const auto& f : formats_)
    if (f.name == name) return &f;
  return nullptr;
}

std::vector<std::string> FormatSet::self_test() const {
  std::vector<std::string> failures;
  ParseScratch scratch;
  for (const auto& f : formats_) {
    if (!f.pattern.empty() && !f.compiled()) {
      failures.push_back(f.file + ": format '" + f.name + "': field 'pattern': " + f.error);
      continue;
    }
    size_t n = 0;
    for (const auto& s : f.samples) {
      ++n;
      Event ev;
      const Format* got_fmt = parse(s.line, ev, scratch);
      auto fail = [&](const std::string& what) {
        failures.push_back(f.file + ": format '" + f.name + "': sample #" + std::to_string(n) + " \"" + s.line +
                           "\": " + what);
      };
      if (got_fmt != &f) {
        fail(got_fmt ? "is parsed by format '" + got_fmt->name + "' (" + got_fmt->file +
                           ") first: make the patterns tell them apart"
                     : "does not match the pattern");
        continue;
      }
      for (const auto& [field, want] : s.fields) {
        std::string got;
        if (field == "kind") got = kind_name(ev.kind);
        else if (field == "severity") got = severity_name(ev.severity);
        else if (field == "host") got = ev.host;
        else if (field == "component") got = ev.component;
        else if (field == "message") got = ev.message;
        else if (field == "ts") got = ev.ts_ms ? format_iso8601(*ev.ts_ms) : "none";
        else if (field == "ts_text") got = ev.ts_text;
        else if (field == "program") got = ev.program;
        else if (field == "pid") got = ev.proc_id;
        else if (field == "continuation") got = ev.continuation ? "true" : "false";
        else {
          fail("field '" + field + "': unknown field in expectation (kind, severity, host, component, message, "
               "ts, ts_text, program, pid, continuation)");
          continue;
        }
        if (got != want) fail("field '" + field + "': is '" + got + "', expected '" + want + "'");
      }
    }
  }
  return failures;
}

Result<FormatSet> load_formats(const std::vector<DataFile>& files, bool check_samples) {
  FormatSet set;
  simdjson::dom::parser parser;
  for (const auto& file : files) {
    auto parsed = parse_json_object(parser, file.path, file.text);
    if (!parsed) return parsed.error();
    simdjson::dom::object root = *parsed;
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
      if (set.find(fmt.name)) return ff.err("name", "a format with this name is already defined");
      if (auto s = ff.only_keys(o, {"name", "type", "kind", "description", "pattern", "keys", "samples"}); !s)
        return s.error();
      std::string type = "line", kind = "unknown", pattern;
      if (auto s = ff.opt_string(o, "type", type); !s) return s.error();
      if (type == "line") fmt.type = FormatType::line;
      else if (type == "envelope") fmt.type = FormatType::envelope;
      else if (type == "fragment") fmt.type = FormatType::fragment;
      else if (type == "json") fmt.type = FormatType::json;
      else return ff.err("type", "unknown type '" + type + "' (line, envelope, fragment, json)");
      if (auto s = ff.opt_string(o, "kind", kind); !s) return s.error();
      auto k = kind_from_name(kind);
      if (!k) return ff.err("kind", "unknown log kind '" + kind + "'");
      fmt.kind = *k;
      if (fmt.type == FormatType::json) {
        simdjson::dom::object ko;
        if (o["keys"].get(ko)) return ff.err("keys", "missing: a json format lists its keys");
        JsonFields kf = ff.nested("keys");
        if (auto s = kf.only_keys(ko, {"message", "host", "time", "program", "severity"}); !s) return s.error();
        if (auto s = kf.opt_strings(ko, "message", fmt.keys.message); !s) return s.error();
        if (auto s = kf.opt_strings(ko, "host", fmt.keys.host); !s) return s.error();
        if (auto s = kf.opt_strings(ko, "time", fmt.keys.time); !s) return s.error();
        if (auto s = kf.opt_strings(ko, "program", fmt.keys.program); !s) return s.error();
        if (auto s = kf.opt_strings(ko, "severity", fmt.keys.severity); !s) return s.error();
        if (fmt.keys.message.empty()) return kf.err("message", "needs at least one key");
        if (o["pattern"].error() != simdjson::NO_SUCH_FIELD)
          return ff.err("pattern", "a json format has keys, not a pattern");
      } else {
        if (auto s = ff.req_string(o, "pattern", pattern); !s) return s.error();
        fmt.pattern = pattern;
        // Checked now when the samples are; else by `rules test` at build.
        if (check_samples && !fmt.compiled()) return ff.err("pattern", fmt.error);
      }
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
  std::stable_sort(set.formats_.begin(), set.formats_.end(),
                   [](const Format& a, const Format& b) { return a.type < b.type; });
  // Like lnav: a format whose samples fail is refused at load.
  if (!check_samples) return set;
  if (auto failures = set.self_test(); !failures.empty()) return make_error(failures.front());
  return set;
}

}  // namespace tpmdiag
