#include "pipeline/scanner.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "common/normalize.h"
#include "rules/newlines.h"

namespace tpmdiag {

namespace {
constexpr size_t kChunk = 1 << 20;
// Inputs this small (a paste) take the reference path: matching every line is
// quicker than compiling the literal databases, and gives the same facts.
constexpr size_t kSmallInput = 64 << 10;
}

Scanner::Scanner(const Matcher& matcher, const FormatSet& formats, ScanOptions opts)
    : matcher_(matcher), formats_(formats), opts_(std::move(opts)), scratch_(matcher) {
  opts_.max_line = std::max<size_t>(opts_.max_line, 256);
  if (!opts_.input_format.empty() && opts_.input_format != "auto") forced_ = formats_.find(opts_.input_format);
}

namespace {

bool contains(std::string_view hay, std::string_view needle) {
  return !needle.empty() && hay.find(needle) != std::string_view::npos;
}

std::string_view ltrim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool bare_continuation(std::string_view line) { return ltrim(line).substr(0, 3) == "-->"; }

// Could this line continue a record? (`-->` or ESXi 8's `)+ ` line marker)
bool has_marker(std::string_view line) { return contains(line, "-->") || contains(line, ")+ "); }

bool same_writer(const Event& a, const Event& b) {
  return a.program == b.program && a.proc_id == b.proc_id && a.host == b.host;
}

// Whether a line names the writer of ev (cheap, no parse): its process id as a
// whole word (and its program), or its program when it has no id.
bool names_writer(std::string_view line, const Event& ev) {
  std::string_view tok = !ev.proc_id.empty() ? ev.proc_id : ev.program;
  if (tok.empty()) return false;
  auto word = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  for (size_t at = line.find(tok); at != std::string_view::npos; at = line.find(tok, at + 1)) {
    size_t end = at + tok.size();
    if ((at == 0 || !word(line[at - 1])) && (end >= line.size() || !word(line[end])))
      return ev.proc_id.empty() || contains(line, ev.program);
  }
  return false;
}

// Line starts kept sorted: a block's reference path marks every line.
bool marked(const std::vector<size_t>& v, size_t x) { return std::binary_search(v.begin(), v.end(), x); }
void mark(std::vector<size_t>& v, size_t x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it == v.end() || *it != x) v.insert(it, x);
}

// Start of the line that ends just before `at` (at > 0 and data[at - 1] == '\n').
size_t prev_line_start(const char* data, size_t at) {
  size_t end = at - 1;
  const void* nl = end > 0 ? memrchr(data, '\n', end) : nullptr;
  return nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) + 1 : 0;
}

size_t line_end(const char* data, size_t n, size_t at) {
  const void* nl = std::memchr(data + at, '\n', n - at);
  return nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) : n;
}

}  // namespace

const Format* Scanner::parse_line(std::string_view raw, Event& ev, ParseScratch& scratch, std::string& buf) {
  const Format* f = formats_.parse(normalize_text(raw, buf), ev, scratch, forced_);
  ev.raw = raw;
  return f;
}

bool Scanner::find_parent(const char* data, size_t at, const Event& cont, bool bare, size_t& parent, int budget) {
  ParentMemo& memo = bare ? bare_memo_ : keyed_memo_;
  int dist = 0;
  bool found = look_up(data, at, cont, bare, parent, budget, dist);
  memo.at = at;
  memo.budget = budget;
  memo.found = found;
  memo.parent = parent;
  memo.dist = dist;
  if (!bare) memo.program.assign(cont.program), memo.proc_id.assign(cont.proc_id), memo.host.assign(cont.host);
  return found;
}

bool Scanner::look_up(const char* data, size_t at, const Event& cont, bool bare, size_t& parent, int budget,
                      int& dist) {
  // A bare search may go on as a keyed one from an ESXi 8 continuation (below),
  // which reads lines into norm_look_ and look_: it keeps its own.
  std::string& buf = bare ? norm_hop_ : norm_look_;
  ParseScratch& scratch = bare ? hop_ : look_;
  const ParentMemo& memo = bare ? bare_memo_ : keyed_memo_;
  const bool keyed_memo = !bare && memo.program == cont.program && memo.proc_id == cont.proc_id && memo.host == cont.host;
  size_t pos = at;
  for (int k = 0; k < budget && pos > 0; ++k) {
    size_t start = prev_line_start(data, pos);
    std::string_view line = normalize_text(std::string_view(data + start, pos - 1 - start), buf);
    pos = start;
    // The line of the last search of this kind, which this one would pass
    // over (a bare line, or the writer's continuation): the rest of the way
    // up is that search's. (A flood of continuations stays linear.)
    if (start == memo.at && (bare ? bare_continuation(line) : keyed_memo)) {
      if (memo.found && k + 1 + memo.dist <= budget) {
        parent = memo.parent;
        dist = k + 1 + memo.dist;
        return true;
      }
      if (memo.found || memo.budget >= budget - k - 1) return false;
    }
    if (bare) {
      // The line before the `-->` lines, whatever its shape (a pasted line of
      // no known format too): join_forward joins them to it from there, so
      // the reference path, which starts a record at every line, does.
      if (bare_continuation(line)) continue;
      Event p;
      const Format* f = formats_.parse(line, p, scratch, forced_);
      if (f != nullptr && f->type == FormatType::json) return false;  // a JSON record joins nothing
      if (!p.continuation) {
        parent = start;
        dist = k + 1;
        return true;
      }
      // An ESXi 8 continuation (`Hostd[TID]: --> ...`): join_forward takes
      // the `-->` lines right after it into its record, whose first line is
      // the one to find, within what is left of the look-back.
      if (p.program.empty() || !find_parent(data, start, p, false, parent, budget - k - 1)) return false;
      dist = k + 1 + keyed_memo_.dist;
      return true;
    }
    if (!names_writer(line, cont)) continue;
    Event p;
    const Format* f = formats_.parse(line, p, scratch, forced_);
    if (!same_writer(p, cont)) continue;
    if (p.continuation || bare_continuation(line)) continue;  // (a `-->` line is one, whatever it parses as)
    // The writer's next record (join_forward stops there); a JSON one joins nothing.
    if (f != nullptr && f->type == FormatType::json) return false;
    parent = start;
    dist = k + 1;
    return true;
  }
  return false;
}

void Scanner::join_forward(const char* data, size_t n, size_t parent_end, Event& ev) {
  const bool keyed = !ev.program.empty();
  bool adjacent = true, joined = false;
  int idle = 0, lines = 0, span = 0;
  joined_.clear();
  // Up to kLookback lines below the first: find_parent finds it from any of them.
  for (size_t pos = parent_end + 1; pos < n && idle < kLookahead && lines < kMaxJoinLines && ++span <= kLookback;) {
    size_t end = line_end(data, n, pos);
    std::string_view raw = rtrim(std::string_view(data + pos, end - pos));
    std::string_view line = normalize_text(raw, norm_look_);
    size_t here = pos;
    pos = end + 1;
    Event c;
    bool take = false;
    if (bare_continuation(line)) {
      if (!adjacent) {
        ++idle;
        continue;
      }
      formats_.parse(line, c, look_, forced_);
      take = true;
    } else if (!keyed) {
      break;  // bare records continue only on adjacent lines
    } else if (!has_marker(line)) {
      // Likely the same writer's next record: stop (joining less is the safe
      // mistake, and it spares a parse per line on the reference path).
      if (names_writer(line, ev)) break;
      adjacent = false;
      ++idle;
      continue;
    } else {
      const Format* f = formats_.parse(line, c, look_, forced_);
      bool same = same_writer(c, ev);
      if (same && !c.continuation) break;
      // A JSON record is a record of its own, even holding a continuation.
      if (!same || !c.continuation || (f != nullptr && f->type == FormatType::json)) {
        adjacent = false;
        ++idle;
        continue;
      }
      take = true;
    }
    if (!take) continue;
    // This record's size (join_msg_ holds the previous record's until the first take).
    size_t size = joined ? join_msg_.size() : ev.message.size();
    if (size + c.message.size() + line.size() + 2 > kMaxJoinBytes) break;
    if (!joined) {
      join_msg_.assign(ev.message);
      join_raw_.assign(rtrim(ev.raw));
      joined = true;
    }
    join_msg_ += '\n';
    join_msg_ += c.message;
    join_raw_ += '\n';
    join_raw_ += raw;
    joined_.push_back(here);
    adjacent = true;
    idle = 0;
    ++lines;
  }
  if (joined) {
    ev.message = join_msg_;
    ev.raw = join_raw_;
  }
}

void Scanner::emit(Event& ev, const std::vector<int>* atoms, const std::string& input, uint32_t input_seq,
                   std::vector<Fact>& facts) {
  ev.input = input;
  if (ev.host.empty()) ev.host = opts_.host;
  if (ev.kind == SourceKind::unknown) ev.kind = opts_.kind_hint;
  if (atoms == nullptr && opts_.prefilter) {
    // An input too small for the literal databases: its atoms by a plain
    // search, so only the rules they stand for are compiled and run (the
    // reference path, prefilter off, runs every rule).
    atoms_.clear();
    matcher_.atoms_in(ev.message, scratch_, atoms_);
    if (ev.raw != ev.message) matcher_.atoms_in(ev.raw, scratch_, atoms_);
    if (atoms_.empty()) return;
    atoms = &atoms_;
  }
  size_t before = facts.size();
  matcher_.match(ev, atoms, scratch_, facts);
  for (size_t i = before; i < facts.size(); ++i) facts[i].input_seq = input_seq;
}

void Scanner::start_input(std::vector<Fact>& facts, InputStats& stats) {
  same_.clear();
  first_fact_ = facts.size();
  stats_ = &stats;
}

// Between inputs a Scanner holds no memory of the last one's facts (the
// next starts afresh anyway): a reused Scanner leaves allocated what it
// found, which libFuzzer's leak check otherwise rechecks input by input.
void Scanner::end_input() { same_.clear(); }

// The two paths reach a block's records in other orders (a record from its
// first candidate line; lines that need normalising after the others), so
// its facts wait in facts[pending_, end) and are folded in line order, those
// above line `upto`: which copies are kept does not depend on the order.
void Scanner::fold(std::vector<Fact>& facts, uint64_t upto) {
  auto by_line = [](const Fact& a, const Fact& b) { return a.line < b.line; };
  auto from = facts.begin() + static_cast<std::ptrdiff_t>(pending_);
  if (!std::is_sorted(from, facts.end(), by_line)) std::stable_sort(from, facts.end(), by_line);
  auto to = std::partition_point(from, facts.end(), [&](const Fact& f) { return f.line < upto; });
  pending_ = keep_new(facts, pending_, static_cast<size_t>(to - facts.begin()));
}

// Folds facts[before, to) into identical earlier ones and applies max_facts
// (see the header); the facts after `to` move down behind the kept ones.
// Returns the end of the kept ones.
size_t Scanner::keep_new(std::vector<Fact>& facts, size_t before, size_t to) {
  size_t out = before;
  for (size_t i = before; i < to; ++i) {
    Fact& f = facts[i];
    // Past max_facts, only what a verdict rests on is kept (symptoms, proofs,
    // window marks), up to kNeededFactor times as many; context is counted.
    const size_t kept = out - first_fact_;
    const bool needed = f.rule->role == RuleRole::symptom || f.rule->role == RuleRole::success ||
                        f.rule->window != WindowMark::none;
    bool full = kept >= opts_.max_facts && (!needed || kept >= opts_.max_facts * kNeededFactor);
    if (f.rule->window != WindowMark::none) {
      same_.clear();  // a new window may begin: it keeps its own copies
    } else {
      ((sig_.assign(f.host) += '\0') += f.rule->id);
      for (const auto& [k, v] : f.fields) (((sig_ += '\0') += k) += '=') += v;
      auto it = same_.find(sig_);
      if (it != same_.end() && (it->second.second >= opts_.keep_same || full)) {
        Fact& kept = facts[it->second.first];
        ++kept.repeats;
        kept.last_line = f.line;
        kept.last_ts_text = f.ts_text;
        kept.last_ts_ms = f.ts_ms;
        ++stats_->repeated_facts;
        continue;
      }
      if (!full) {
        if (it == same_.end()) it = same_.emplace(sig_, std::pair<size_t, size_t>{out, 0}).first;
        it->second = {out, it->second.second + 1};
      }
    }
    if (full) {
      ++stats_->dropped_facts;
      if (needed) ++stats_->dropped_needed;
      continue;
    }
    if (out != i) facts[out] = std::move(f);
    ++out;
  }
  if (out != to) {  // (a Fact moved onto itself would lose its fields)
    auto rest = std::move(facts.begin() + static_cast<std::ptrdiff_t>(to), facts.end(),
                          facts.begin() + static_cast<std::ptrdiff_t>(out));
    facts.erase(rest, facts.end());
  }
  return out;
}

void Scanner::record(const char* data, size_t n, size_t begin, size_t end, std::string_view text,
                     std::span<const int> line_atoms, uint64_t number, const std::string& input,
                     uint32_t input_seq, std::vector<Fact>& facts) {
  std::string_view raw(data + begin, end - begin);
  Event ev;
  const Format* f = formats_.parse(text, ev, head_, forced_);
  ev.raw = raw;
  size_t first = begin;
  if (f == nullptr || f->type != FormatType::json) {
    // A `-->` line continues the record before it whatever its bytes and
    // whatever it parses as, as join_forward reads it: one no format parses
    // (bytes that are not UTF-8, a forced format), or one that parses as a
    // first line (a log line glued to the marker). A continuation of
    // another shape and no writer is never joined.
    const bool bare = bare_continuation(text);
    const bool cont = ev.continuation || bare;
    size_t parent;
    if (cont && (bare || !ev.program.empty()) && find_parent(data, begin, ev, bare, parent, kLookback) &&
        !marked(emitted_, parent)) {
      size_t parent_end = line_end(data, n, parent);
      Event p;  // read as a candidate line is: cut at max_line
      parse_line(std::string_view(data + parent, std::min(parent_end - parent, opts_.max_line)), p, head_,
                 norm_parent_);
      join_forward(data, n, parent_end, p);
      // The parent's record reaches this line: it is the record. If it does
      // not (past the look-ahead or another limit of joining), the line is a
      // record of its own, as the reference path (every line a candidate)
      // reads it, and the parent's record is left to a line it reaches.
      if (std::binary_search(joined_.begin(), joined_.end(), begin)) {
        for (size_t at : joined_) mark(covered_, at);
        number -= count_newlines(data + parent, begin - parent);
        first = parent;
        ev = p;
      } else {
        formats_.parse(text, ev, head_, forced_);  // p's parse reused head_, which ev's views point into
        ev.raw = raw;
      }
    } else if (!cont) {
      join_forward(data, n, line_end(data, n, begin), ev);
      for (size_t at : joined_) mark(covered_, at);
    }
  }
  mark(emitted_, first);
  ev.line = number;
  // JSON's \u00a0 and the like become such characters only when unescaped.
  if (needs_normalize(ev.message)) ev.message = normalize_text(ev.message, norm_msg_);

  const std::vector<int>* atoms = nullptr;
  if (prefilter_) {
    const char* m = ev.message.data();
    bool inside = ev.message.empty() || (m >= text.data() && m + ev.message.size() <= text.data() + text.size());
    if (inside) {
      atoms_.assign(line_atoms.begin(), line_atoms.end());
    } else {
      // The rules see other text than the line the prefilter saw (joined or
      // unescaped): find its atoms again, in the message and in the record's
      // lines, as the reference path looks for the fallback rule's literals.
      atoms_.clear();
      auto add = [&](std::string_view, uint64_t, const std::vector<int>& a) {
        atoms_.insert(atoms_.end(), a.begin(), a.end());
      };
      matcher_.prefilter(ev.message.data(), ev.message.size(), scratch_, add);
      if (ev.raw != ev.message) matcher_.prefilter(ev.raw.data(), ev.raw.size(), scratch_, add);
      if (atoms_.empty()) return;
      std::sort(atoms_.begin(), atoms_.end());
      atoms_.erase(std::unique(atoms_.begin(), atoms_.end()), atoms_.end());
    }
    atoms = &atoms_;
  }
  emit(ev, atoms, input, input_seq, facts);
}

// Lines longer than max_line inside a block: counted here, and cut to
// max_line where they are read. Such a line holds a whole window of
// max_line / 2 bytes without a newline, so probing one memchr per window
// finds them all while costing nothing on ordinary text.
uint64_t Scanner::cut_long_lines(const char* data, size_t n) {
  const size_t max = opts_.max_line, h = max / 2;
  uint64_t cut = 0;
  for (size_t w = 0; w + h <= n;) {
    if (std::memchr(data + w, '\n', h)) {
      w += h;
      continue;
    }
    const void* nl = w > 0 ? memrchr(data, '\n', w) : nullptr;
    size_t begin = nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) + 1 : 0;
    size_t end = line_end(data, n, w + h);
    if (end - begin > max) ++cut;
    w = end + 1;
  }
  return cut;
}

uint64_t Scanner::block(const char* data, size_t n, uint64_t first_line, const std::string& input,
                    uint32_t input_seq, std::vector<Fact>& facts, InputStats& stats) {
  cands_.clear();
  cand_atoms_.clear();
  pending_ = facts.size();
  TextCounts counts;
  if (!prefilter_) {
    uint64_t index = 0;
    for (size_t pos = 0; pos < n; ++index) {
      size_t end = line_end(data, n, pos);
      cands_.push_back({pos, end, index, 0, 0});
      pos = end + 1;
    }
    counts.newlines = count_newlines(data, n, &counts.high);
  } else {
    auto add = [&](std::string_view text, uint64_t index, const std::vector<int>& atoms) {
      size_t at = static_cast<size_t>(text.data() - data);
      cands_.push_back({at, at + text.size(), index, cand_atoms_.size(), atoms.size()});
      cand_atoms_.insert(cand_atoms_.end(), atoms.begin(), atoms.end());
    };
    counts = matcher_.prefilter(data, n, scratch_, add);
  }
  if (n > opts_.max_line) {
    stats.cut_lines += cut_long_lines(data, n);
    for (Cand& c : cands_) c.end = std::min(c.end, c.begin + opts_.max_line);
  }
  covered_.clear();
  emitted_.clear();
  bare_memo_.at = keyed_memo_.at = SIZE_MAX;
  for (const Cand& c : cands_) {
    uint64_t number = first_line + c.index;
    std::string_view text(data + c.begin, c.end - c.begin);
    if (needs_normalize(text)) {
      counts.high = true;  // (the counts say so already)
      continue;            // read as its normalised text below
    }
    ++stats.candidates;
    if (marked(covered_, c.begin)) continue;
    record(data, n, c.begin, c.end, text,
           std::span<const int>(cand_atoms_.data() + c.atoms_at, c.atoms_n), number, input, input_seq, facts);
    // No record still to come starts more than kLookback lines above this
    // one, unless the block has lines that need normalising (read after the
    // others, and reaching records of their own): what is above is final.
    if (!counts.high && facts.size() - pending_ >= 512 && number > first_line + kLookback)
      fold(facts, number - kLookback);
  }
  if (counts.high) normalized_lines(data, n, first_line, input, input_seq, facts, stats);
  fold(facts, UINT64_MAX);
  return counts.newlines;
}

// Lines that copying from a web page or mail changed (no-break spaces,
// zero-width characters, curly quotes: common/normalize.h) are prefiltered,
// parsed and matched as their normalised text, after the rest of the block
// (on both paths); the evidence keeps the bytes as read. Such a line joins
// records as any other: a `-->` line continues the record before it.
void Scanner::normalized_lines(const char* data, size_t n, uint64_t first_line, const std::string& input,
                               uint32_t input_seq, std::vector<Fact>& facts, InputStats& stats) {
  uint64_t number = first_line;
  for (size_t pos = 0; pos < n; ++number) {
    size_t eol = line_end(data, n, pos);
    size_t at = pos, end = std::min(eol, pos + opts_.max_line);
    pos = eol + 1;
    std::string_view raw(data + at, end - at);
    if (!needs_normalize(raw) || marked(covered_, at) || marked(emitted_, at)) continue;
    std::string_view text = normalize_text(raw, norm_);
    norm_atoms_.clear();
    if (prefilter_) {
      matcher_.prefilter(text.data(), text.size(), scratch_,
                         [&](std::string_view, uint64_t, const std::vector<int>& a) {
                           norm_atoms_.assign(a.begin(), a.end());
                         });
      if (norm_atoms_.empty()) continue;
    }
    ++stats.candidates;
    record(data, n, at, end, text, norm_atoms_, number, input, input_seq, facts);
  }
}

void Scanner::scan_memory(const char* data, size_t n, const std::string& input, uint32_t input_seq,
                          std::vector<Fact>& facts, InputStats& stats,
                          const std::function<void(const char* upto)>& done) {
  start_input(facts, stats);
  prefilter_ = opts_.prefilter && (n >= kSmallInput || opts_.force_prefilter);
  stats.bytes += n;
  uint64_t lines_done = 0;
  for (size_t pos = 0; pos < n;) {
    size_t stop = std::min(n, pos + kChunk);
    const void* last = stop < n ? memrchr(data + pos, '\n', stop - pos) : nullptr;
    size_t end;  // the block: whole lines [pos, end)
    if (stop == n) {
      end = n;
    } else if (last) {
      end = static_cast<size_t>(static_cast<const char*>(last) - data) + 1;
    } else {
      // A line longer than a chunk: match its start; past max_line, look for
      // its end a chunk at a time, letting `done` release what is passed, so
      // a 300 MiB line is never resident at once.
      size_t head = std::min(n - pos, opts_.max_line);
      size_t eol = line_end(data, pos + head, pos);
      if (eol < pos + head || pos + head == n) {
        block(data + pos, eol - pos, lines_done + 1, input, input_seq, facts, stats);
      } else {
        block(data + pos, opts_.max_line, lines_done + 1, input, input_seq, facts, stats);
        ++stats.cut_lines;
        for (size_t at = pos + head;;) {
          size_t to = std::min(n, at + kChunk);
          eol = line_end(data, to, at);
          if (eol < to || to == n) break;
          at = to;
          if (done) done(data + at);
        }
      }
      ++lines_done;
      pos = eol + 1;
      if (done) done(data + std::min(pos, n));
      continue;
    }
    uint64_t nl = block(data + pos, end - pos, lines_done + 1, input, input_seq, facts, stats);
    lines_done += nl + (end == n && data[n - 1] != '\n' ? 1 : 0);
    pos = end;
    if (done) done(data + pos);
  }
  stats.lines = lines_done;
  end_input();
}

Status Scanner::scan(ByteSource& src, const std::string& input, uint32_t input_seq,
                     std::vector<Fact>& facts, InputStats& stats) {
  start_input(facts, stats);
  // The buffer starts small and doubles while reads fill it (a large input:
  // up to two chunks) or a long line needs room (up to max_line plus a
  // chunk). Allocated whole up front, --max-line 1G cost 2 GiB per input and
  // a pasted line 2 MiB.
  const size_t max_cap = std::max(kChunk, opts_.max_line) * 2;
  auto grow = [&](size_t want, size_t keep) {
    auto bigger = std::make_unique_for_overwrite<char[]>(want);
    if (keep) std::memcpy(bigger.get(), buf_.get(), keep);
    buf_ = std::move(bigger);
    buf_cap_ = want;
  };
  if (buf_cap_ < kSmallInput) grow(kSmallInput, 0);
  char* buf = buf_.get();
  size_t cap = buf_cap_;
  size_t fill = 0;
  bool filled = false;  // the last read filled all it was offered
  bool skipping = false;  // inside the tail of a cut line
  uint64_t lines_done = 0;
  prefilter_ = opts_.prefilter;
  bool started = false;  // lines handed on yet (until then, small input may switch paths)
  Status failed = ok_status();  // a read error ends the input like its end would: what was read counts
  for (;;) {
    if (cap < max_cap && ((filled && cap < 2 * kChunk) || cap - fill < std::min(kChunk, cap / 2))) {
      grow(std::min(max_cap, std::max(cap * 2, fill + std::min(kChunk, cap))), fill);
      buf = buf_.get();
      cap = buf_cap_;
    }
    size_t got = 0, offered = std::min(kChunk, cap - fill);
    if (auto r = src.read(buf + fill, offered)) got = *r;
    else failed = r.error();
    filled = got == offered;
    bool eof = got == 0;
    stats.bytes += got;
    fill += got;
    if (!started) {
      if (!eof && fill < kSmallInput) continue;  // not yet known to be small
      if (eof && fill < kSmallInput && !opts_.force_prefilter) prefilter_ = false;
      started = true;
    }
    size_t start = 0;
    if (skipping) {
      const char* nl = static_cast<const char*>(std::memchr(buf, '\n', fill));
      if (!nl) {
        fill = 0;
        if (eof) {
          ++lines_done;
          break;
        }
        continue;
      }
      start = static_cast<size_t>(nl - buf) + 1;
      skipping = false;
      ++lines_done;
    }
    if (start < fill) {
      const void* last = memrchr(buf + start, '\n', fill - start);
      if (last) {
        size_t end = static_cast<size_t>(static_cast<const char*>(last) - buf) + 1;
        lines_done += block(buf + start, end - start, lines_done + 1, input, input_seq, facts, stats);
        start = end;
      }
    }
    size_t rem = fill - start;
    if (eof) {
      if (rem > 0) {
        block(buf + start, rem, lines_done + 1, input, input_seq, facts, stats);
        ++lines_done;
      }
      break;
    }
    if (rem > opts_.max_line) {
      block(buf + start, opts_.max_line, lines_done + 1, input, input_seq, facts, stats);
      ++stats.cut_lines;
      skipping = true;
      fill = 0;
      continue;
    }
    std::memmove(buf, buf + start, rem);
    fill = rem;
  }
  stats.lines = lines_done;
  end_input();
  return failed;
}

}  // namespace tpmdiag
