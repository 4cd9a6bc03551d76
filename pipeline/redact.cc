#include "pipeline/redact.h"

#include <algorithm>
#include <cstring>

#include "common/embedded.h"
#include "common/json_read.h"
#include "common/text.h"

namespace tpmdiag {

namespace {

constexpr const char* kFile = "pipeline/redact.json";

Result<std::shared_ptr<re2::RE2>> compile(const JsonFields& f, const char* key, const std::string& text) {
  auto re = std::make_shared<re2::RE2>(text, RE2::Quiet);
  if (!re->ok()) return f.err(key, "bad RE2 pattern: " + re->error());
  return re;
}

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace

Result<RedactSpec> RedactSpec::parse(std::string_view json, const std::string& where) {
  simdjson::dom::parser parser;
  auto root = parse_json_object(parser, where, std::string(json));
  if (!root) return root.error();
  JsonFields top{where};
  if (auto s = top.only_keys(*root, {"about", "schema_version", "min_word", "keep", "keep_suffix", "patterns",
                                     "unchanged"});
      !s)
    return s.error();
  RedactSpec spec;
  double min_word = 3;
  if (auto s = top.opt_number(*root, "min_word", min_word, 1, 64); !s) return s.error();
  spec.min_word_ = static_cast<size_t>(min_word);
  if (auto s = top.opt_strings(*root, "keep", spec.keep_); !s) return s.error();
  if (auto s = top.opt_strings(*root, "keep_suffix", spec.keep_suffix_); !s) return s.error();
  for (auto& k : spec.keep_) k = ascii_lower(k);
  for (auto& k : spec.keep_suffix_) k = ascii_lower(k);

  RE2::Options so;
  so.set_log_errors(false);
  spec.set_ = std::make_shared<RE2::Set>(so, RE2::UNANCHORED);
  simdjson::dom::array patterns;
  if ((*root)["patterns"].get(patterns)) return top.err("patterns", "must be a list");
  size_t pi = 0;
  for (auto pe : patterns) {
    JsonFields f{where + ": patterns[" + std::to_string(pi++) + "]"};
    simdjson::dom::object po;
    if (pe.get(po)) return make_error(f.where + ": must be an object");
    if (auto s = f.only_keys(po, {"id", "kind", "pattern", "not_after", "samples", "note"}); !s) return s.error();
    Pattern p;
    std::string pattern, not_after;
    if (auto s = f.req_string(po, "id", p.id); !s) return s.error();
    f.where = where + ": pattern '" + p.id + "'";
    if (auto s = f.req_string(po, "kind", p.kind); !s) return s.error();
    if (p.kind.empty() || p.kind.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos)
      return f.err("kind", "must be a lower-case word (the token's prefix)");
    if (auto s = f.req_string(po, "pattern", pattern); !s) return s.error();
    if (auto s = f.opt_string(po, "not_after", not_after); !s) return s.error();
    auto re = compile(f, "pattern", pattern);
    if (!re) return re.error();
    if ((*re)->NumberOfCapturingGroups() != 1) return f.err("pattern", "needs exactly one capture group: the value");
    p.re = *re;
    if (!not_after.empty()) {
      auto na = compile(f, "not_after", not_after);
      if (!na) return na.error();
      p.not_after = *na;
    }
    std::string err;
    if (spec.set_->Add(pattern, &err) < 0) return f.err("pattern", "bad RE2 pattern: " + err);
    simdjson::dom::array samples;
    if (po["samples"].get(samples)) return f.err("samples", "must list at least one {\"line\", \"redacted\"}");
    size_t si = 0;
    for (auto se : samples) {
      JsonFields sf = f.nested("samples[" + std::to_string(si) + "]");
      simdjson::dom::object o;
      if (se.get(o)) return sf.err("", "must be an object");
      if (auto s = sf.only_keys(o, {"line", "redacted"}); !s) return s.error();
      Sample sample{f.where + " sample " + std::to_string(++si), "", ""};
      if (auto s = sf.req_string(o, "line", sample.line); !s) return s.error();
      if (auto s = sf.req_string(o, "redacted", sample.expect); !s) return s.error();
      spec.samples_.push_back(std::move(sample));
    }
    if (si == 0) return f.err("samples", "must list at least one {\"line\", \"redacted\"}");
    spec.patterns_.push_back(std::move(p));
  }
  if (!spec.set_->Compile()) return top.err("patterns", "too large to compile together");
  std::vector<std::string> unchanged;
  if (auto s = top.opt_strings(*root, "unchanged", unchanged); !s) return s.error();
  for (size_t i = 0; i < unchanged.size(); ++i)
    spec.samples_.push_back({where + ": unchanged[" + std::to_string(i) + "]", unchanged[i], unchanged[i]});
  if (auto s = spec.self_test(where); !s) return s.error();
  return spec;
}

// Each sample through a fresh Redactor: a spec whose samples fail is refused,
// as a format whose samples do not parse is.
Status RedactSpec::self_test(const std::string&) const {
  for (const auto& s : samples_) {
    Redactor r(*this);
    std::string got = r.line(s.line);
    if (got != s.expect)
      return make_error(one_line(s.where + ": expected '" + s.expect + "', got '" + got + "'"));
  }
  return ok_status();
}

Result<const RedactSpec*> RedactSpec::builtin() {
  static const Result<RedactSpec> spec = [] {
    std::string_view text = find_embedded(kFile);
    if (text.empty()) return Result<RedactSpec>(make_error(std::string(kFile) + ": not embedded in this build"));
    return parse(text, kFile);
  }();
  if (!spec) return spec.error();
  return &*spec;
}

bool RedactSpec::keep(std::string_view value) const {
  std::string v = ascii_lower(value);
  if (std::find(keep_.begin(), keep_.end(), v) != keep_.end()) return true;
  for (const auto& s : keep_suffix_)
    if (v == s || (v.size() > s.size() && ends_with(v, s) && v[v.size() - s.size() - 1] == '.')) return true;
  return false;
}

// ---------------------------------------------------------------------------

std::string Redactor::token(const std::string& kind, std::string_view value) {
  std::string v(value);
  auto it = token_of_.find(v);
  if (it != token_of_.end()) return it->second;
  std::string t = kind + "-" + std::to_string(++next_[kind]);
  token_of_.emplace(v, t);
  order_.emplace_back(t, std::move(v));
  return t;
}

// Values found before, wherever they stand as a word (or a dot-separated
// label of one) and are long enough not to be common text.
void Redactor::known_words(std::string_view text, std::vector<Span>& spans) {
  if (token_of_.empty()) return;
  size_t i = 0;
  while (i < text.size()) {
    if (!word_char(text[i])) {
      ++i;
      continue;
    }
    size_t b = i;
    while (i < text.size() && word_char(text[i])) ++i;
    std::string_view w = text.substr(b, i - b);
    while (!w.empty() && (w.back() == '.' || w.back() == '-')) w.remove_suffix(1);
    if (w.size() < spec_.min_word()) continue;
    if (token_of_.count(std::string(w))) {
      spans.push_back({b, b + w.size(), ""});
      continue;
    }
    for (size_t s = 0; s < w.size();) {  // labels: "esx01" of "esx01.lab"
      size_t e = w.find('.', s);
      if (e == std::string_view::npos) e = w.size();
      if (e - s >= spec_.min_word() && e - s < w.size() && token_of_.count(std::string(w.substr(s, e - s))))
        spans.push_back({b + s, b + e, ""});
      s = e + 1;
    }
  }
}

// Overlapping spans are joined (nothing of either is left), then each is
// replaced by its value's token.
std::string Redactor::apply(std::string_view text, std::vector<Span>& spans) {
  if (spans.empty()) return std::string(text);
  std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(text.size() + 16);
  size_t at = 0;
  for (size_t i = 0; i < spans.size();) {
    Span s = spans[i++];
    while (i < spans.size() && spans[i].begin < s.end) s.end = std::max(s.end, spans[i++].end);
    out.append(text.substr(at, s.begin - at));
    std::string_view value = text.substr(s.begin, s.end - s.begin);
    auto it = token_of_.find(std::string(value));
    out += it != token_of_.end() ? it->second : token(s.kind.empty() ? "host" : s.kind, value);
    at = s.end;
  }
  out.append(text.substr(at));
  return out;
}

std::string Redactor::line(std::string_view text) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Span> spans;
  hits_.clear();
  re2::StringPiece sp(text.data(), text.size());
  if (spec_.set().Match(sp, &hits_)) {
    std::sort(hits_.begin(), hits_.end());
    for (int h : hits_) {
      const auto& p = spec_.patterns()[static_cast<size_t>(h)];
      re2::StringPiece m[2];
      for (size_t pos = 0; pos <= text.size();) {
        if (!p.re->Match(sp, pos, text.size(), RE2::UNANCHORED, m, 2)) break;
        size_t b = static_cast<size_t>(m[1].data() - text.data()), e = b + m[1].size();
        size_t whole = static_cast<size_t>(m[0].data() - text.data());
        pos = std::max(e, whole + 1);  // the next match may begin in this one's trailing context
        if (m[1].empty() || spec_.keep(m[1])) continue;
        if (p.not_after) {
          size_t from = b > 48 ? b - 48 : 0;
          if (RE2::PartialMatch(re2::StringPiece(text.data() + from, b - from), *p.not_after)) continue;
        }
        spans.push_back({b, e, p.kind});
      }
    }
  }
  // Learn the pattern values first, so a word of this line that one of them
  // names is found too.
  for (const auto& s : spans) {
    std::string_view v = text.substr(s.begin, s.end - s.begin);
    if (!token_of_.count(std::string(v))) token(s.kind, v);
  }
  known_words(text, spans);
  return apply(text, spans);
}

std::string Redactor::again(std::string_view text) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Span> spans;
  known_words(text, spans);
  return apply(text, spans);
}

std::string Redactor::host(std::string_view h) {
  if (h.empty() || spec_.keep(h)) return std::string(h);
  std::lock_guard<std::mutex> lock(mu_);
  return token("host", h);
}

std::string Redactor::name(std::string_view path, std::string_view host_in_path) {
  if (!host_in_path.empty()) host(host_in_path);
  std::string red = line(path);
  std::lock_guard<std::mutex> lock(mu_);
  // A bundle's host between '-' (esx-HOST-DATE): known, but not a word of its own.
  if (host_in_path.empty() || spec_.keep(host_in_path)) return red;
  std::string h(host_in_path);
  const std::string& t = token_of_[h];
  for (size_t at = 0; (at = red.find(h, at)) != std::string::npos;) {
    bool left = at == 0 || !alnum(red[at - 1]);
    bool right = at + h.size() == red.size() || !alnum(red[at + h.size()]);
    if (left && right) {
      red.replace(at, h.size(), t);
      at += t.size();
    } else {
      at += h.size();
    }
  }
  return red;
}

std::vector<std::pair<std::string, std::string>> Redactor::map() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto out = order_;
  auto key = [](const std::string& t) {
    size_t dash = t.rfind('-');
    return std::make_pair(t.substr(0, dash), std::stoul(t.substr(dash + 1)));
  };
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) { return key(a.first) < key(b.first); });
  return out;
}

std::map<std::string, size_t> Redactor::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_;
}

// ---------------------------------------------------------------------------

namespace {

// Whole lines of src, redacted. A line longer than kMaxLine is redacted in
// pieces of that size (the scanner matches only the start of such a line,
// and evidence shows at most 4 KiB of it).
class RedactSource : public ByteSource {
 public:
  RedactSource(Redactor& red, ByteSource& src) : red_(red), src_(src) {}

  Result<size_t> read(char* buf, size_t cap) override {
    while (at_ == out_.size()) {
      out_.clear();
      at_ = 0;
      if (done_) {
        if (err_) {
          Error e = *err_;
          err_.reset();
          return e;
        }
        return size_t{0};
      }
      fill();
    }
    size_t n = std::min(cap, out_.size() - at_);
    std::memcpy(buf, out_.data() + at_, n);
    at_ += n;
    return n;
  }
  uint64_t raw_bytes() const override { return src_.raw_bytes(); }

 private:
  static constexpr size_t kChunk = 256 << 10, kMaxLine = 1 << 20;

  void fill() {
    size_t old = in_.size();
    in_.resize(old + kChunk);
    auto n = src_.read(in_.data() + old, kChunk);
    in_.resize(old + (n ? *n : 0));
    if (!n || *n == 0) {  // the end (or an error): the last line, then the end
      if (!n) err_ = n.error();
      out_ += red_.line(in_);
      in_.clear();
      done_ = true;
      return;
    }
    size_t start = 0;
    for (size_t nl; (nl = in_.find('\n', start)) != std::string::npos; start = nl + 1) {
      out_ += red_.line(std::string_view(in_).substr(start, nl - start));
      out_ += '\n';
    }
    in_.erase(0, start);
    if (in_.size() >= kMaxLine) {
      out_ += red_.line(in_);
      in_.clear();
    }
  }

  Redactor& red_;
  ByteSource& src_;
  std::string in_, out_;
  size_t at_ = 0;
  bool done_ = false;
  std::optional<Error> err_;
};

}  // namespace

std::unique_ptr<ByteSource> Redactor::source(ByteSource& src) { return std::make_unique<RedactSource>(*this, src); }

}  // namespace tpmdiag
