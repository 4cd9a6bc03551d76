#include "parsers/head_match.h"

#include <cstring>
#include <optional>

namespace tpmdiag {

namespace {

using Inst = HeadMatcher::Inst;
using Op = HeadMatcher::Op;
constexpr uint32_t kUnbounded = UINT32_MAX;
constexpr size_t kMaxProgram = 4096;
constexpr size_t kMaxFrames = 1024;

// A class as the ASCII bytes it takes, and whether it takes other code
// points (then a byte >= 0x80 makes the matcher give up: UTF-8 not modelled).
struct Set {
  bool in[128] = {};
  bool other = false;
  void add(unsigned lo, unsigned hi) {
    for (unsigned c = lo; c <= hi; ++c) in[c] = true;
  }
  void add(const Set& s) {
    for (int c = 0; c < 128; ++c) in[c] = in[c] || s.in[c];
    other = other || s.other;
  }
  Set negated() const {
    Set s;
    for (int c = 0; c < 128; ++c) s.in[c] = !in[c];
    s.other = !other;
    return s;
  }
};

// RE2's Perl classes \d \s \w (ASCII only, as RE2 has them); \w is also
// what \b takes for a word character.
Set perl_class(char c) {
  Set s;
  if (c == 's') {
    for (char w : {'\t', '\n', '\f', '\r', ' '}) s.add(static_cast<unsigned char>(w), static_cast<unsigned char>(w));
    return s;
  }
  s.add('0', '9');
  if (c == 'w') {
    s.add('A', 'Z');
    s.add('a', 'z');
    s.add('_', '_');
  }
  return s;
}

struct Node {
  enum Kind : uint8_t { empty, cls, concat, alt, group, rep, assertion } kind = empty;
  Set set;             // cls
  int cap = 0;         // group: its number (0: none); assertion: its Assert
  uint32_t min = 0, max = 0;
  bool greedy = true;  // rep
  std::vector<Node> kids;
};

bool nullable(const Node& n) {
  switch (n.kind) {
    case Node::empty:
    case Node::assertion: return true;
    case Node::cls: return false;
    case Node::concat:
      for (const Node& k : n.kids)
        if (!nullable(k)) return false;
      return true;
    case Node::alt:
      for (const Node& k : n.kids)
        if (nullable(k)) return true;
      return false;
    case Node::group: return nullable(n.kids[0]);
    case Node::rep: return n.min == 0 || nullable(n.kids[0]);
  }
  return true;
}

bool has_capture(const Node& n) {
  if (n.kind == Node::group) return true;
  for (const Node& k : n.kids)
    if (has_capture(k)) return true;
  return false;
}

// Recursive descent over RE2's syntax; any construct outside the subset
// (head_match.h) fails the whole parse.
class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}
  std::optional<Node> parse() {
    Node n = alternation(0);
    if (!ok_ || i_ != p_.size()) return std::nullopt;
    return n;
  }
  int groups() const { return groups_; }

 private:
  std::string_view p_;
  size_t i_ = 0;
  int groups_ = 0;
  bool ok_ = true;

  bool more() const { return i_ < p_.size(); }
  char peek() const { return p_[i_]; }
  void fail() { ok_ = false; }

  Node alternation(int depth) {
    if (depth > 64) {
      fail();
      return {};
    }
    Node a;
    a.kind = Node::alt;
    a.kids.push_back(concatenation(depth));
    while (ok_ && more() && peek() == '|') {
      ++i_;
      a.kids.push_back(concatenation(depth));
    }
    if (a.kids.size() == 1) return std::move(a.kids[0]);
    return a;
  }

  Node concatenation(int depth) {
    Node c;
    c.kind = Node::concat;
    while (ok_ && more() && peek() != '|' && peek() != ')') {
      Node a = atom(depth);
      if (!ok_) break;
      if (more() && (peek() == '?' || peek() == '*' || peek() == '+' || peek() == '{')) a = repeat(std::move(a));
      if (more() && (peek() == '?' || peek() == '*' || peek() == '+' || peek() == '{')) fail();  // `a**`
      c.kids.push_back(std::move(a));
    }
    if (c.kids.size() == 1) return std::move(c.kids[0]);
    if (c.kids.empty()) c.kind = Node::empty;
    return c;
  }

  bool number(uint32_t& v) {
    size_t start = i_;
    v = 0;
    while (more() && peek() >= '0' && peek() <= '9' && i_ - start < 5) v = v * 10 + static_cast<uint32_t>(p_[i_++] - '0');
    return i_ > start && v <= 1000;
  }

  Node repeat(Node a) {
    Node r;
    r.kind = Node::rep;
    char q = p_[i_++];
    if (q == '?') r.max = 1;
    else if (q == '*') r.max = kUnbounded;
    else if (q == '+') r.min = 1, r.max = kUnbounded;
    else {  // {n}, {n,}, {n,m}; anything else (RE2 reads it as literal text) is not modelled
      if (!number(r.min)) return fail(), r;
      r.max = r.min;
      if (more() && peek() == ',') {
        ++i_;
        r.max = kUnbounded;
        if (more() && peek() != '}' && !number(r.max)) return fail(), r;
      }
      if (!more() || peek() != '}' || r.max < r.min) return fail(), r;
      ++i_;
    }
    if (more() && peek() == '?') {
      r.greedy = false;
      ++i_;
    }
    if (a.kind == Node::empty) return fail(), r;
    // RE2 and Perl may part on an empty iteration, and a repeated capture
    // keeps one of several matches: neither is modelled.
    if ((r.max > 1 || r.min > 1) && has_capture(a)) return fail(), r;
    if (a.kind != Node::cls && nullable(a)) return fail(), r;
    r.kids.push_back(std::move(a));
    return r;
  }

  // The escape after a backslash, as a set; false if not modelled.
  bool escape(Set& s) {
    if (!more()) return false;
    char c = p_[i_++];
    const Set digit = perl_class('d'), space = perl_class('s'), word = perl_class('w');
    switch (c) {
      case 'd': s = digit; return true;
      case 'D': s = digit.negated(); return true;
      case 's': s = space; return true;
      case 'S': s = space.negated(); return true;
      case 'w': s = word; return true;
      case 'W': s = word.negated(); return true;
      case 't': s.add('\t', '\t'); return true;
      case 'n': s.add('\n', '\n'); return true;
      case 'r': s.add('\r', '\r'); return true;
      case 'f': s.add('\f', '\f'); return true;
      case 'v': s.add('\v', '\v'); return true;
      default: break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u >= 0x7f || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
      return false;  // \b \A \x \p \1 ...
    s.add(u, u);
    return true;
  }

  // One character of a class (a literal or an escape standing for one).
  bool class_char(unsigned& c, bool& single, Set& s) {
    unsigned char u = static_cast<unsigned char>(p_[i_]);
    if (u == '\\') {
      ++i_;
      Set e;
      if (!escape(e)) return false;
      int n = 0;
      for (int k = 0; k < 128; ++k)
        if (e.in[k]) ++n, c = static_cast<unsigned>(k);
      single = n == 1 && !e.other;
      s = e;
      return true;
    }
    if (u < 0x20 || u >= 0x7f) return false;
    if (u == '[' && i_ + 1 < p_.size() && p_[i_ + 1] == ':') return false;  // [:alpha:]
    ++i_;
    c = u;
    single = true;
    s = Set{};
    s.add(u, u);
    return true;
  }

  Node bracket() {
    Node n;
    n.kind = Node::cls;
    bool neg = more() && peek() == '^';
    if (neg) ++i_;
    if (more() && peek() == ']') return fail(), n;  // `[]a]`: not modelled
    Set s;
    while (ok_ && more() && peek() != ']') {
      unsigned lo = 0;
      bool single;
      Set one;
      if (!class_char(lo, single, one)) return fail(), n;
      if (more() && peek() == '-' && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        unsigned hi = 0;
        bool single_hi;
        Set other;
        if (!single || !class_char(hi, single_hi, other) || !single_hi || hi < lo) return fail(), n;
        s.add(lo, hi);
      } else {
        s.add(one);
      }
    }
    if (!more()) return fail(), n;
    ++i_;  // ']'
    n.set = neg ? s.negated() : s;
    return n;
  }

  Node atom(int depth) {
    Node n;
    unsigned char c = static_cast<unsigned char>(p_[i_]);
    if (c == '(') {
      ++i_;
      int group = 0;
      if (p_.substr(i_, 2) == "?:") {
        i_ += 2;
      } else if (p_.substr(i_, 3) == "?P<") {
        size_t end = p_.find('>', i_ + 3);
        if (end == std::string_view::npos || end == i_ + 3) return fail(), n;
        for (size_t k = i_ + 3; k < end; ++k) {
          char ch = p_[k];
          if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_'))
            return fail(), n;
        }
        i_ = end + 1;
        group = ++groups_;
      } else if (more() && peek() == '?') {
        return fail(), n;  // flags, (?<name>...): not modelled
      } else {
        group = ++groups_;
      }
      Node body = alternation(depth + 1);
      if (!ok_ || !more() || peek() != ')') return fail(), n;
      ++i_;
      if (!group) return body;
      n.kind = Node::group;
      n.cap = group;
      n.kids.push_back(std::move(body));
      return n;
    }
    n.kind = Node::cls;
    if (c == '[') {
      ++i_;
      return bracket();
    }
    if (c == '.') {
      ++i_;
      n.set.add(0, 127);
      n.set.in[static_cast<unsigned char>('\n')] = false;
      n.set.other = true;
      return n;
    }
    if (c == '\\' && i_ + 1 < p_.size() && std::strchr("bBAz", p_[i_ + 1])) {
      static constexpr HeadMatcher::Assert kinds[] = {HeadMatcher::Assert::word_boundary,
                                                      HeadMatcher::Assert::not_word_boundary,
                                                      HeadMatcher::Assert::text_start, HeadMatcher::Assert::text_end};
      n.kind = Node::assertion;
      n.cap = static_cast<int>(kinds[std::strchr("bBAz", p_[i_ + 1]) - "bBAz"]);
      i_ += 2;
      return n;
    }
    if (c == '^' || c == '$') {
      n.kind = Node::assertion;
      n.cap = static_cast<int>(c == '^' ? HeadMatcher::Assert::text_start : HeadMatcher::Assert::text_end);
      ++i_;
      return n;
    }
    if (c == '\\') {
      ++i_;
      if (!escape(n.set)) fail();
      return n;
    }
    if (c == '*' || c == '+' || c == '?' || c == '{' || c < 0x20 || c >= 0x7f)
      return fail(), n;
    ++i_;
    n.set.add(c, c);
    return n;
  }
};

// The byte a class node stands for alone, or -1 ('\n' too: classes give up on it).
int single(const Node& n) {
  if (n.kind != Node::cls || n.set.other) return -1;
  int c = -1;
  for (int k = 0; k < 128; ++k)
    if (n.set.in[k]) {
      if (c >= 0) return -1;
      c = k;
    }
  return c == '\n' ? -1 : c;
}

class Compiler {
 public:
  std::vector<Inst> prog;
  std::vector<HeadMatcher::Class> classes;
  std::string lits;
  bool ok = true;

  int32_t pc() const { return static_cast<int32_t>(prog.size()); }
  int32_t emit(Inst in) {
    if (prog.size() >= kMaxProgram) ok = false;
    prog.push_back(in);
    return pc() - 1;
  }

  uint16_t add_class(const Set& s) {
    HeadMatcher::Class c;
    for (int b = 0; b < 256; ++b) c.test[b] = b < 128 ? s.in[b] : s.other ? 2 : 0;
    c.test[static_cast<unsigned char>('\n')] = 2;  // lines hold none; RE2's rules for it not modelled
    for (size_t k = 0; k < classes.size(); ++k)
      if (std::memcmp(classes[k].test, c.test, sizeof c.test) == 0) return static_cast<uint16_t>(k);
    if (classes.size() >= UINT16_MAX) ok = false;
    classes.push_back(c);
    return static_cast<uint16_t>(classes.size() - 1);
  }

  void node(const Node& n) {
    if (!ok) return;
    switch (n.kind) {
      case Node::empty: break;
      case Node::assertion: emit({.op = Op::assert, .cls = add_class(perl_class('w')), .x = n.cap}); break;
      case Node::cls: emit({.op = Op::cls, .cls = add_class(n.set)}); break;
      case Node::concat:
        for (size_t k = 0; k < n.kids.size();) {
          size_t end = k;
          std::string run;
          for (int c; end < n.kids.size() && (c = single(n.kids[end])) >= 0; ++end) run += static_cast<char>(c);
          if (run.size() < 2) {
            node(n.kids[k++]);
            continue;
          }
          emit({.op = Op::lit, .x = static_cast<int32_t>(lits.size()), .y = static_cast<int32_t>(run.size())});
          lits += run;
          k = end;
        }
        break;
      case Node::alt: {
        std::vector<int32_t> jumps;
        for (size_t k = 0; k < n.kids.size(); ++k) {
          int32_t split = -1;
          if (k + 1 < n.kids.size()) split = emit({.op = Op::split});
          if (split >= 0) prog[static_cast<size_t>(split)].x = pc();
          node(n.kids[k]);
          if (k + 1 < n.kids.size()) {
            jumps.push_back(emit({.op = Op::jmp}));
            prog[static_cast<size_t>(split)].y = pc();
          }
        }
        for (int32_t j : jumps) prog[static_cast<size_t>(j)].x = pc();
        break;
      }
      case Node::group:
        emit({.op = Op::save, .x = 2 * n.cap});
        node(n.kids[0]);
        emit({.op = Op::save, .x = 2 * n.cap + 1});
        break;
      case Node::rep: repeat(n); break;
    }
  }

  void repeat(const Node& n) {
    const Node& body = n.kids[0];
    if (body.kind == Node::cls) {  // one instruction, a tight loop
      emit({.op = Op::rep, .greedy = n.greedy, .cls = add_class(body.set), .min = n.min, .max = n.max});
      return;
    }
    for (uint32_t k = 0; k < n.min && ok; ++k) node(body);
    if (n.max == kUnbounded) {
      int32_t loop = emit({.op = Op::split});
      node(body);
      emit({.op = Op::jmp, .x = loop});
      choose(loop, n.greedy);
      return;
    }
    std::vector<int32_t> splits;  // x{0,2}: x(?:x)? optional, each try skipping to the end
    for (uint32_t k = n.min; k < n.max && ok; ++k) {
      splits.push_back(emit({.op = Op::split}));
      node(body);
    }
    for (int32_t s : splits) choose(s, n.greedy);
  }

  // A split before a body: into it first when greedy, else past the end.
  void choose(int32_t split, bool greedy) {
    if (!ok) return;
    Inst& s = prog[static_cast<size_t>(split)];
    s.x = greedy ? split + 1 : pc();
    s.y = greedy ? pc() : split + 1;
  }
};

using First = HeadMatcher::First;

void add(First& f, const First& g) {
  for (int k = 0; k < 4; ++k) f.bytes[k] |= g.bytes[k];
  f.empty = f.empty || g.empty;
}

void add_class(First& f, const HeadMatcher::Class& c) {
  for (int b = 0; b < 256; ++b)
    if (c.test[b]) f.bytes[b >> 6] |= uint64_t{1} << (b & 63);  // 2 (give up) too: it may go on
}

// first_ of every instruction, by a walk that stops at what takes a byte.
class FirstSets {
 public:
  FirstSets(const std::vector<Inst>& prog, const std::vector<HeadMatcher::Class>& classes, const std::string& lits)
      : prog_(prog), classes_(classes), lits_(lits), out_(prog.size()), state_(prog.size(), 0) {}
  std::vector<First> all() {
    for (size_t pc = 0; pc < prog_.size(); ++pc) of(static_cast<int32_t>(pc));
    return std::move(out_);
  }

 private:
  const std::vector<Inst>& prog_;
  const std::vector<HeadMatcher::Class>& classes_;
  const std::string& lits_;
  std::vector<First> out_;
  std::vector<uint8_t> state_;  // 0 not yet, 1 being found, 2 found

  First of(int32_t pc) {
    auto i = static_cast<size_t>(pc);
    if (state_[i] == 2) return out_[i];
    First f;
    if (state_[i] == 1) {  // a loop that takes no byte: cannot be (no empty repetitions); anything
      for (auto& b : f.bytes) b = ~uint64_t{0};
      f.empty = true;
      return f;
    }
    state_[i] = 1;
    const Inst& in = prog_[i];
    switch (in.op) {
      case Op::cls: add_class(f, classes_[in.cls]); break;
      case Op::lit: {
        auto b = static_cast<unsigned char>(lits_[static_cast<size_t>(in.x)]);
        f.bytes[b >> 6] |= uint64_t{1} << (b & 63);
        break;
      }
      case Op::rep:
        add_class(f, classes_[in.cls]);
        if (in.min == 0) add(f, of(pc + 1));
        break;
      case Op::split:
        add(f, of(in.x));
        add(f, of(in.y));
        break;
      case Op::jmp: add(f, of(in.x)); break;
      case Op::save:
      case Op::assert: add(f, of(pc + 1)); break;
      case Op::match: f.empty = true; break;
    }
    state_[i] = 2;
    out_[i] = f;
    return f;
  }
};

struct Frame {
  enum Kind : uint8_t { alt, restore, greedy, lazy } kind;
  int32_t pc;
  int32_t a, b;  // alt: pos; restore: old value; greedy: lowest pos, current; lazy: count, pos
};

}  // namespace

std::unique_ptr<HeadMatcher> HeadMatcher::compile(std::string_view pattern) {
  if (pattern.size() > 4096) return nullptr;
  Parser p(pattern);
  auto tree = p.parse();
  if (!tree) return nullptr;
  Compiler c;
  c.node(*tree);
  c.emit({.op = Op::match});
  if (!c.ok) return nullptr;
  auto h = std::make_unique<HeadMatcher>();
  h->first_ = FirstSets(c.prog, c.classes, c.lits).all();
  h->prog_ = std::move(c.prog);
  h->classes_ = std::move(c.classes);
  h->lits_ = std::move(c.lits);
  h->groups_ = p.groups();
  return h;
}

HeadMatcher::Result HeadMatcher::match(std::string_view text, re2::StringPiece* g, int n) const {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  if (text.size() > INT32_MAX / 2) return Result::gave_up;
  const int32_t len = static_cast<int32_t>(text.size());
  int32_t caps[2 * 64];
  const int slots = 2 * (groups_ + 1);
  if (slots > static_cast<int>(std::size(caps)) || n > groups_ + 1) return Result::gave_up;
  for (int k = 0; k < slots; ++k) caps[k] = -1;

  // The choices left to go back to. A head needs tens; a line that needs
  // more (a repeated choice over a long line) goes to RE2, whose memory does
  // not grow with it.
  Frame stack[kMaxFrames];
  size_t sp = 0;
  auto push = [&](Frame f) {
    if (sp == kMaxFrames) return false;
    stack[sp++] = f;
    return true;
  };
  // Whether the match may go on from pc at pos.
  auto may = [&](int32_t pc, int32_t pos) {
    const First& f = first_[static_cast<size_t>(pc)];
    if (f.empty) return true;
    if (pos >= len) return false;
    return (f.bytes[s[pos] >> 6] >> (s[pos] & 63) & 1) != 0;
  };
  // The greedy repetition at pc, backed off from `from` to its lowest `lo`:
  // the longest it may go on with, or -1.
  auto back_off = [&](int32_t pc, int32_t lo, int32_t from) {
    for (int32_t p = from; p >= lo; --p)
      if (may(pc + 1, p)) return p;
    return int32_t{-1};
  };

  // RE2's \b is ASCII's: a byte >= 0x80 is not a word character. `word` is
  // the \w class the instruction carries.
  auto holds = [&](const Inst& in, int32_t p) {
    const uint8_t* word = classes_[in.cls].test;
    const auto a = static_cast<Assert>(in.x);
    switch (a) {
      case Assert::text_start: return p == 0;
      case Assert::text_end: return p == len;
      case Assert::word_boundary:
      case Assert::not_word_boundary: {
        bool edge = (p > 0 && word[s[p - 1]] == 1) != (p < len && word[s[p]] == 1);
        return edge == (a == Assert::word_boundary);
      }
    }
    return false;
  };
  // One more of the lazy repetition r at p: false to give up; p -1 if none.
  auto step = [&](const Inst& r, uint32_t& count, int32_t& p) {
    uint8_t t = count < r.max && p < len ? classes_[r.cls].test[s[p]] : 0;
    if (t == 2) return false;
    if (t == 0) p = -1;
    else ++p, ++count;
    return true;
  };
  // The lazy repetition r taken on from p to the first point the match may
  // go on from (p -1 if none): false to give up.
  auto lazy_to = [&](const Inst& r, uint32_t& count, int32_t& p) {
    const auto at = static_cast<int32_t>(&r - prog_.data());
    while (p >= 0 && !may(at + 1, p))
      if (!step(r, count, p)) return false;
    return true;
  };

  // A backtracker can take exponential time; RE2 cannot. Past this, RE2.
  int64_t budget = 256 + 16 * static_cast<int64_t>(len);
  int32_t pc = 0, pos = 0;
  for (;;) {
    if (--budget < 0) return Result::gave_up;
    const Inst& in = prog_[static_cast<size_t>(pc)];
    bool ok = true;
    switch (in.op) {
      case Op::cls: {
        uint8_t r = pos < len ? classes_[in.cls].test[s[pos]] : 0;
        if (r == 2) return Result::gave_up;
        ok = r == 1;
        ++pos;
        ++pc;
        break;
      }
      case Op::lit:
        ok = len - pos >= in.y && std::memcmp(s + pos, lits_.data() + in.x, static_cast<size_t>(in.y)) == 0;
        pos += in.y;
        ++pc;
        break;
      case Op::rep: {
        const uint8_t* t = classes_[in.cls].test;
        const int32_t start = pos;
        for (uint32_t k = 0; k < in.min && ok; ++k, ++pos) {
          uint8_t r = pos < len ? t[s[pos]] : 0;
          if (r == 2) return Result::gave_up;
          ok = r == 1;
        }
        if (!ok) break;
        if (in.greedy) {
          const int32_t lo = pos;
          while (pos < len && static_cast<uint32_t>(pos - start) < in.max) {
            uint8_t r = t[s[pos]];
            if (r == 2) return Result::gave_up;
            if (r == 0) break;
            ++pos;
          }
          budget -= (pos - lo) >> 4;
          pos = back_off(pc, lo, pos);
          if (pos < 0) {
            ok = false;
            break;
          }
          if (pos > lo && !push({Frame::greedy, pc, lo, pos})) return Result::gave_up;
        } else {
          uint32_t count = in.min;
          if (!lazy_to(in, count, pos)) return Result::gave_up;
          if (pos < 0) {
            ok = false;
            break;
          }
          if (count < in.max && !push({Frame::lazy, pc, static_cast<int32_t>(count), pos})) return Result::gave_up;
        }
        ++pc;
        break;
      }
      case Op::split:
        if (!may(in.x, pos)) {
          pc = in.y;
        } else {
          if (may(in.y, pos) && !push({Frame::alt, in.y, pos, 0})) return Result::gave_up;
          pc = in.x;
        }
        break;
      case Op::jmp: pc = in.x; break;
      case Op::assert:
        ok = holds(in, pos);
        ++pc;
        break;
      case Op::save:
        if (!push({Frame::restore, in.x, caps[in.x], 0})) return Result::gave_up;
        caps[in.x] = pos;
        ++pc;
        break;
      case Op::match: {
        if (n >= 1) g[0] = re2::StringPiece(text.data(), static_cast<size_t>(pos));
        for (int k = 1; k < n; ++k) {
          if (caps[2 * k] < 0 || caps[2 * k + 1] < 0) g[k] = re2::StringPiece();
          else g[k] = re2::StringPiece(text.data() + caps[2 * k], static_cast<size_t>(caps[2 * k + 1] - caps[2 * k]));
        }
        return Result::match;
      }
    }
    if (ok) continue;
    for (bool resumed = false; !resumed;) {  // back to the latest choice left
      if (sp == 0) return Result::no_match;
      if (--budget < 0) return Result::gave_up;
      Frame f = stack[--sp];
      switch (f.kind) {
        case Frame::restore: caps[f.pc] = f.a; break;
        case Frame::alt:
          pc = f.pc;
          pos = f.a;
          resumed = true;
          break;
        case Frame::greedy: {  // fewer
          int32_t p = back_off(f.pc, f.a, f.b - 1);
          if (p < 0) break;
          pos = p;
          if (pos > f.a && !push({Frame::greedy, f.pc, f.a, pos})) return Result::gave_up;
          pc = f.pc + 1;
          resumed = true;
          break;
        }
        case Frame::lazy: {  // more
          const Inst& r = prog_[static_cast<size_t>(f.pc)];
          auto count = static_cast<uint32_t>(f.a);
          int32_t p = f.b;
          if (!step(r, count, p) || !lazy_to(r, count, p)) return Result::gave_up;
          if (p < 0) break;
          pos = p;
          if (count < r.max && !push({Frame::lazy, f.pc, static_cast<int32_t>(count), pos})) return Result::gave_up;
          pc = f.pc + 1;
          resumed = true;
          break;
        }
      }
    }
  }
}

}  // namespace tpmdiag
