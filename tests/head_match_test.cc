// parsers/head_match.h against RE2, its reference: random patterns of the
// subset on random text, the built-in formats' heads, and what it must
// refuse or hand back to RE2.
#include <catch2/catch.hpp>

#include <random>
#include <re2/re2.h>
#include <string>
#include <vector>

#include "parsers/format.h"
#include "parsers/head_match.h"
#include "parsers/trailing_any.h"

using namespace tpmdiag;

namespace {

struct Gen {
  std::mt19937 rng;
  int groups = 0;
  size_t pick(size_t n) { return rng() % n; }

  std::string atom(int depth) {
    static const char* kAtoms[] = {"a", "b", ":", " ", "-", "0", "x", "\\]", "\\(", "\\d", "\\D", "\\s", "\\S",
                                   "\\w", "\\W", ".", "[a-c]", "[^a ]", "[\\d:]", "[^\\]]", "[-a]", "[ab]", "\\t", "\\b", "\\B", "^", "$"};
    switch (depth < 2 ? pick(6) : 0) {
      case 1: return "(" + (++groups, alt(depth + 1)) + ")";
      case 2: return "(?:" + alt(depth + 1) + ")";
      case 3: return "(?P<g" + std::to_string(++groups) + ">" + alt(depth + 1) + ")";
      default: return kAtoms[pick(std::size(kAtoms))];
    }
  }
  std::string quantified(int depth) {
    static const char* kQ[] = {"", "", "", "?", "*", "+", "{2}", "{1,3}", "{0,}", "{0,2}"};
    std::string a = atom(depth);
    // A group is quantified less often: one that holds a capture or can
    // match empty cannot be repeated in the subset; an assertion never.
    bool assertion = a == "^" || a == "$" || a == "\\b" || a == "\\B";
    std::string q = !assertion && (a[0] != '(' || pick(3) == 0) ? kQ[pick(std::size(kQ))] : "";
    if (!q.empty() && pick(3) == 0) q += "?";  // lazy
    return a + q;
  }
  std::string concat(int depth) {
    std::string s;
    for (size_t n = 1 + pick(4); n > 0; --n) s += quantified(depth);
    return s;
  }
  std::string alt(int depth) {
    std::string s = concat(depth);
    for (size_t n = pick(3) == 0 ? 1 + pick(2) : 0; n > 0; --n) s += "|" + concat(depth);
    return s;
  }
  std::string text() {
    static const char kChars[] = "ab0: -]x(\t";
    std::string t;
    for (size_t n = pick(14); n > 0; --n) t += kChars[pick(sizeof kChars - 1)];
    return t;
  }
};

// RE2's answer and the matcher's agree, or the matcher gave up; true if it decided.
bool agrees(const RE2& re, const HeadMatcher& h, const std::string& text, size_t& matched) {
  int n = h.groups() + 1;
  std::vector<re2::StringPiece> ref(static_cast<size_t>(n)), fast(static_cast<size_t>(n));
  bool want = re.Match(text, 0, text.size(), RE2::ANCHOR_START, ref.data(), n);
  auto got = h.match(text, fast.data(), n);
  if (got == HeadMatcher::Result::gave_up) return false;
  CAPTURE(re.pattern(), text);
  REQUIRE((got == HeadMatcher::Result::match) == want);
  if (!want) return true;
  ++matched;
  for (int g = 0; g < n; ++g) {
    CAPTURE(g);
    CHECK(fast[static_cast<size_t>(g)].data() == ref[static_cast<size_t>(g)].data());
    CHECK(fast[static_cast<size_t>(g)].size() == ref[static_cast<size_t>(g)].size());
  }
  return true;
}

}  // namespace

TEST_CASE("HeadMatcher matches and captures as RE2 on random patterns", "[parsers][head_match][differential]") {
  Gen gen{std::mt19937(7)};
  size_t patterns = 0, compiled = 0, decided = 0, gave_up = 0, matched = 0;
  for (int i = 0; i < 3000; ++i) {
    gen.groups = 0;
    std::string p = gen.alt(0);
    RE2::Options o;
    o.set_log_errors(false);
    RE2 re(p, o);
    if (!re.ok()) continue;
    ++patterns;
    auto h = HeadMatcher::compile(p);
    if (!h) continue;
    ++compiled;
    REQUIRE(h->groups() == re.NumberOfCapturingGroups());
    for (int t = 0; t < 40; ++t) {
      if (agrees(re, *h, gen.text(), matched)) ++decided;
      else ++gave_up;
    }
  }
  // Not vacuous: most patterns are in the subset, and most lines decided.
  CHECK(compiled * 10 >= patterns * 4);
  CHECK(decided >= 40000);
  CHECK(matched >= 10000);
  CHECK(gave_up * 20 <= decided);
}

TEST_CASE("HeadMatcher compiles every built-in format's head and agrees on its samples", "[parsers][head_match]") {
  auto files = collect_data_files("parsers/formats/", {});
  REQUIRE(files);
  auto fs = load_formats(*files);
  REQUIRE(fs);
  size_t heads = 0, matched = 0;
  std::vector<std::string> lines;
  for (const Format& f : fs->formats())
    for (const auto& s : f.samples) lines.push_back(s.line);
  for (const Format& f : fs->formats()) {
    if (!f.compiled() || !f.compiled_head()) continue;
    CAPTURE(f.name);
    auto t = split_trailing_any(f.pattern);
    REQUIRE(t);
    REQUIRE(f.fast_head);  // a built-in head outside the subset: RE2 parses its lines, ~4x slower
    ++heads;
    for (const auto& l : lines) CHECK(agrees(*f.head, *f.fast_head, l, matched));
  }
  CHECK(heads >= 10);
  CHECK(matched >= heads);
}

TEST_CASE("HeadMatcher refuses what it does not model", "[parsers][head_match]") {
  for (const char* p : {"(?i)a", "[[:alpha:]]", "\\pL", "(a*)*", "(?:a|)+", "(a)+", "(?:(a)b){2}",
                        "\xC3\xA9", "\\x41", "a{,2}", "[]a]", "\\Qa\\E", "(?<n>a)", "[\\d-z]", "(a", "\\b+", "(?:^)*"}) {
    CAPTURE(p);
    CHECK_FALSE(HeadMatcher::compile(p));
  }
  for (const char* p : {"", "a(b)?c", "(?P<x>[^\\]]*?)\\]", "a{2,3}?b", "(?:ab|a)c", "[-a]", "[a-]", "\\-\\/", "^a\\b", "a$", "\\Aa\\z", "\\Bb"}) {
    CAPTURE(p);
    CHECK(HeadMatcher::compile(p));
  }
}

TEST_CASE("HeadMatcher gives up where RE2 must answer", "[parsers][head_match]") {
  re2::StringPiece g[3];
  auto h = HeadMatcher::compile("(\\S+) (x)");
  REQUIRE(h);
  // UTF-8: \S takes a whole code point, or not an invalid byte.
  CHECK(h->match("\xC3\xA9 x", g, 3) == HeadMatcher::Result::gave_up);
  CHECK(h->match("\xFF x", g, 3) == HeadMatcher::Result::gave_up);
  CHECK(h->match("a\nb x", g, 3) == HeadMatcher::Result::gave_up);
  REQUIRE(h->match("ab x!", g, 3) == HeadMatcher::Result::match);
  CHECK(std::string(g[0].data(), g[0].size()) == "ab x");
  CHECK(std::string(g[1].data(), g[1].size()) == "ab");
  // An ASCII-only class never takes a byte >= 0x80: no need to give up.
  auto a = HeadMatcher::compile("[a-z]+:");
  REQUIRE(a);
  CHECK(a->match("ab\xC3\xA9:", g, 1) == HeadMatcher::Result::no_match);
  // Exponential backtracking stops at the budget.
  auto slow = HeadMatcher::compile("(?:a|a)*b");
  REQUIRE(slow);
  CHECK(slow->match(std::string(40, 'a'), g, 1) == HeadMatcher::Result::gave_up);
  CHECK(slow->match("aaab", g, 1) == HeadMatcher::Result::match);
  // So do choices kept on a long line, within the step budget: a bounded stack.
  CHECK(slow->match(std::string(3000, 'a') + "b", g, 1) == HeadMatcher::Result::gave_up);
  CHECK(slow->match(std::string(500, 'a') + "b", g, 1) == HeadMatcher::Result::match);
}

TEST_CASE("A format whose head gives up still parses as RE2 says", "[parsers][head_match]") {
  Format f;
  f.name = "slow";
  f.pattern = "(?P<a>(?:x|x)*)y(?P<message>.*)";
  REQUIRE(f.compiled());
  REQUIRE(f.compiled_head());
  REQUIRE(f.fast_head);
  for (std::string line : {std::string(60, 'x') + "y rest", std::string(60, 'x') + " no", std::string("\xC3\xA9y"),
                           std::string(3000, 'x') + "y rest"}) {
    re2::StringPiece fast[3], ref[3];
    CAPTURE(line);
    bool a = f.match(line, fast, 3), b = f.match(line, ref, 3, true);
    REQUIRE(a == b);
    for (int k = 0; a && k < 3; ++k) {
      CHECK(fast[k].data() == ref[k].data());
      CHECK(fast[k].size() == ref[k].size());
    }
  }
}
