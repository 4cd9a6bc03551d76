// The key search (rules/keyfilter.h), with each engine this CPU has, must find
// exactly the lines the slow reference finds: random keys (short, long, sharing buckets, with
// punctuation and high bytes) over random text, at every length around the
// 64-byte blocks and the padded tail.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "rules/keyfilter.h"
#include "rules/matcher.h"
#include "rules/prefilter_build.h"

using namespace tpmdiag;

namespace {

std::vector<std::tuple<size_t, size_t, uint64_t>> spans(const std::vector<LineSpan>& v) {
  std::vector<std::tuple<size_t, size_t, uint64_t>> out;
  for (const auto& s : v) out.emplace_back(s.begin, s.end, s.index);
  return out;
}

// What every engine must count over the whole text, found without them.
TextCounts counted(std::string_view text) {
  TextCounts c;
  for (char ch : text) {
    c.newlines += ch == '\n';
    c.high = c.high || static_cast<unsigned char>(ch) >= 0x80;
  }
  return c;
}

// Text drawn mostly from the keys' own letters (in both cases), so keys and
// near-misses occur often; some newlines, NULs and high bytes.
std::string random_text(std::mt19937& rng, const std::vector<std::string>& keys, size_t n) {
  std::string out;
  std::uniform_int_distribution<int> pick(0, 99);
  while (out.size() < n) {
    int p = pick(rng);
    if (p < 8) {
      out += '\n';
    } else if (p < 20 && !keys.empty()) {  // a key, maybe cut short, in random case
      const auto& k = keys[rng() % keys.size()];
      size_t len = (p < 16) ? k.size() : rng() % (k.size() + 1);
      for (size_t i = 0; i < len; ++i) out += (rng() & 1) ? static_cast<char>(std::toupper(k[i])) : k[i];
    } else if (p < 23) {
      out += static_cast<char>(rng() & 0xff);
    } else if (!keys.empty()) {
      const auto& k = keys[rng() % keys.size()];
      if (!k.empty()) out += k[rng() % k.size()];
    } else {
      out += static_cast<char>('a' + rng() % 26);
    }
  }
  out.resize(n);
  return out;
}

std::vector<std::string> random_keys(std::mt19937& rng, size_t count) {
  static const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .:_-()[]~\x80\xe9";
  std::vector<std::string> keys;
  for (size_t i = 0; i < count; ++i) {
    size_t len = 1 + rng() % 12;
    std::string k;
    for (size_t j = 0; j < len; ++j) k += alphabet[rng() % alphabet.size()];
    keys.push_back(k);
  }
  return keys;
}

std::vector<KeyFilter::Engine> engines() {
  std::vector<KeyFilter::Engine> out;
  for (auto e : {KeyFilter::Engine::avx512, KeyFilter::Engine::avx2})
    if (KeyFilter::supported(e)) out.push_back(e);
  return out;
}

void check(const std::vector<std::string>& keys, const std::string& text, std::string_view sample) {
  std::vector<LineSpan> slow;
  TextCounts want = counted(text), got = KeyFilter::reference_lines(keys, text.data(), text.size(), slow);
  REQUIRE(got.newlines == want.newlines);
  REQUIRE(got.high == want.high);
  for (auto e : engines()) {
    KeyFilter f(keys, sample, e);
    std::vector<LineSpan> fast;
    got = f.lines(text.data(), text.size(), fast);
    INFO(KeyFilter::name(e) << ", keys: " << keys.size() << ", text bytes: " << text.size());
    REQUIRE(spans(fast) == spans(slow));
    REQUIRE(got.newlines == want.newlines);
    REQUIRE(got.high == want.high);
  }
}

// Keys the built-in rules once chose.
std::vector<std::string> real_keys() {
  return {"tpm 2.0 ", "pmdriver", "com.vmwa", "sx.probl", "nstalled", "cure boo", "vmb_tpm:", "0xe02955",
          "tpm",      "ment key", " configu", "x509 pub", "trusted ", "ib(s): [", "uefi0046", "enabled:",
          "d policy", "ublic: (", "boot_req", "nt () :g", "disks: [", "mpty buf", "debugger", " problem",
          "ack coun", "recovery", "mode: no", "n the db", "al error", ".v00"};
}

}  // namespace

TEST_CASE("key search finds the same lines as the reference", "[keyfilter]") {
  if (engines().empty()) {
    WARN("this CPU has neither AVX2 nor AVX-512 VBMI: Vectorscan does level 1");
    return;
  }
  std::mt19937 rng(12345);
  for (size_t count : {1, 3, 8, 9, 16, 17, 31, 40, 70}) {
    for (int round = 0; round < 40; ++round) {
      auto keys = random_keys(rng, count);
      size_t n = (round < 20) ? static_cast<size_t>(round * 7) : 60 + rng() % 4000;
      std::string text = random_text(rng, keys, n);
      check(keys, text, round % 2 ? std::string_view(text) : std::string_view());
    }
  }
}

// Both engines gather the candidates of 64 blocks (4 KiB) before they
// check them: texts around and across those batches, with lines that run
// from one batch into the next (the scan resumes past the line's end) and
// blocks holding many candidates.
TEST_CASE("key search: across the 4 KiB batches of candidates", "[keyfilter]") {
  if (engines().empty()) return;
  std::mt19937 rng(777);
  for (size_t n : {4095, 4096, 4097, 4160, 8191, 8192, 8193, 12288 + 17, 40000}) {
    for (int round = 0; round < 6; ++round) {
      auto keys = random_keys(rng, round % 2 ? 9 : 30);
      std::string text = random_text(rng, keys, n);
      if (round >= 2) {  // few newlines: lines of several KiB, across batches
        for (char& c : text)
          if (c == '\n' && rng() % 16) c = ' ';
      }
      check(keys, text, round % 3 ? std::string_view(text) : std::string_view());
    }
  }
  // A key just before a batch's end whose line ends in a later batch, and
  // keys at the first byte of each batch.
  std::vector<std::string> keys = {"tpm", "createprimary", "0x9a2"};
  for (size_t at : {4093, 4094, 4095, 4096, 8189, 8192}) {
    std::string text(at, 'a');
    check(keys, text + "TPM" + std::string(5000, 'b') + "\n0x9a2\n", {});
    check(keys, text + "CreatePrimary" + std::string(5000, 'c'), {});
  }
  // The line counts and high-byte test cover every byte, those of a line the
  // scan skips to its end too: one byte >= 0x80 in ASCII text, before, inside
  // and past such a line (it starts in the first batch, ends in the third).
  std::string line = std::string(4000, 'a') + "tpm" + std::string(6000, 'b') + "\n";
  for (size_t at : {size_t{0}, size_t{3999}, size_t{4100}, size_t{8191}, size_t{8300}, size_t{10002}, size_t{10100}}) {
    std::string text = "x\n" + line + std::string(200, 'c') + "\n0x9a2\n";
    check(keys, text, {});
    text[at] = '\xe9';
    check(keys, text, {});
  }
}

TEST_CASE("key search: edges of the buffer and of lines", "[keyfilter]") {
  if (engines().empty()) return;
  std::vector<std::string> keys = {"tpm", "createprimary", "0x9a2", "x"};
  for (size_t pad = 0; pad < 140; ++pad) {
    std::string before(pad, 'a');
    check(keys, before + "TPM", {});                 // at the very end, no newline
    check(keys, "TpM" + before, {});                 // at the very start
    check(keys, before + "\nCreatePrimary\n", {});   // a whole line
    check(keys, before + "CreatePrimar", {});        // cut by the end: no line
    check(keys, std::string(pad, '\n') + "x", {});   // many empty lines, then a key
  }
  // Near-misses that share a window with a key, and keys inside longer lines.
  check({"abcdefgh", "abcdxxxx", "zzzzefgh"}, "abcdefgx abcdxxx zzzzefgh\nABCDEFGH\nabcdyyyy\n", {});
}

TEST_CASE("key search over real rules' keys and a log-like text", "[keyfilter]") {
  if (engines().empty()) return;
  std::vector<std::string> keys = real_keys();
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text += "2023-07-31T18:42:13.081Z cpu31:2099721)MCA: 202: CE Intr G0 B6 S0x8c00027f12b0678a\n";
    if (i % 97 == 0) text += "2023-07-31T18:42:13.129Z info hostd[2099084] Tpm2Cmd: CreatePrimary: (0x9a2)\n";
    if (i % 89 == 0) text += "2023-07-31T18:42:13.283Z In(166) vmkernel: Secure Boot is not enabled: none\n";
  }
  check(keys, text, text);
}

TEST_CASE("key search: keys across the 32- and 64-byte steps, short keys among long ones", "[keyfilter]") {
  if (engines().empty()) return;
  // Keys under 4 bytes next to long ones; keys whose folded bytes (| 0x20)
  // equal other bytes' ('[' and '{', '@' and '`'): the window slots fold so.
  std::vector<std::string> keys = {"ab", "x", "tpm", "createprimary", "wxyz", "[ab]", "@key", "0x9a2", "~~~~"};
  const std::vector<std::string> texts = {"AB", "X", "tPm", "CREATEprimary", "WxYz", "[aB]", "@KEY", "0X9A2",
                                          "~~~~", "{ab}", "`key", "wxy", "createprimar", "0x9a", "~~~",
                                          "ab\xe9\x80", "X\xff", "tpm\x80"};  // high bytes past a short key
  for (size_t at = 0; at < 140; ++at) {
    for (const auto& t : texts) {
      std::string pad(at, '.');
      check(keys, pad + t, {});                          // ends the text
      check(keys, pad + t + std::string(70, '.'), {});   // then another step or two
      check(keys, pad + '\n' + t + "\n..", {});
    }
  }
}

TEST_CASE("key search: the window slots drop near-misses; short keys keep to their own bucket", "[keyfilter]") {
  if (engines().empty()) return;
  // 29 real keys and 'tpm': two long keys per bucket, one bucket for 'tpm'.
  std::vector<std::string> keys = real_keys();
  for (auto e : engines()) {
    KeyFilter f(keys, {}, e);
    // Each long key's window with its last byte made one that no window's
    // last byte has by low 6 bits or low nibble (AVX2 looks up only the low
    // nibble there): no table lookup passes it. A short key sharing a bucket
    // would pass any last byte there.
    std::set<int> six, nibble;
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i].size() >= 4)
        for (char c : {ascii_lower(keys[i][f.window(i) + 3]), ascii_upper(keys[i][f.window(i) + 3])})
          six.insert(static_cast<unsigned char>(c) & 63), nibble.insert(static_cast<unsigned char>(c) & 15);
    int last = 0;
    while (last < 256 && (six.count(last & 63) || nibble.count(last & 15))) ++last;
    REQUIRE(last < 256);
    std::string miss;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].size() < 4) continue;
      std::string w = keys[i].substr(f.window(i), 4);
      w[3] = static_cast<char>(last);
      if (w.find("tpm") == std::string::npos) miss += w + "\n";
    }
    KeyFilter::Stats st;
    std::vector<LineSpan> out;
    f.lines(miss.data(), miss.size(), out, &st);
    INFO(KeyFilter::name(e));
    CHECK(out.empty());
    CHECK(st.candidates == 0);
    // Windows mixed from two keys' bytes pass the lookups of a bucket holding
    // both, but hash to no key's slot: few get as far as comparing keys.
    std::string mixed;
    for (size_t a = 0; a < keys.size(); ++a)
      for (size_t b = 0; b < keys.size(); ++b) {
        if (a == b || keys[a].size() < 4 || keys[b].size() < 4) continue;
        std::string wa = keys[a].substr(f.window(a), 4), wb = keys[b].substr(f.window(b), 4);
        mixed += wa.substr(0, 2) + wb.substr(2) + "\n";
      }
    st = {};
    out.clear();
    f.lines(mixed.data(), mixed.size(), out, &st);
    std::vector<LineSpan> slow;
    KeyFilter::reference_lines(keys, mixed.data(), mixed.size(), slow);
    CHECK(spans(out) == spans(slow));
    CHECK(st.candidates > 20);
    CHECK(st.confirmed * 4 <= st.candidates);
  }
}

// Windows of one bucket pass every mix of their bytes. Byte frequencies alone
// call "stat" rare (its letters are not): "st t" and "seal" in one bucket
// passed each "stat" of a log full of them. Buckets are filled by an estimate
// that chains how often each byte follows another in the sample; it must
// come near the count of positions the lookups pass.
TEST_CASE("key search: a bucket's pass rate is estimated from byte pairs", "[keyfilter]") {
  std::string text;
  for (int i = 0; i < 3000; ++i)
    text += "2023-06-03T15:21:17.440Z cpu" + std::to_string(i % 48) + ":2099494)Stats: stat " + std::to_string(i) +
            " of the state, status ok; host tpm seal at sector " + std::to_string(i * 7) + "\n";
  std::string lower = text;
  for (char& c : lower) c = ascii_lower(c);
  const ByteFreqs bf(lower);
  // What each engine's lookups pass, by definition (keyfilter.h): low 6 bits
  // of each byte (AVX-512); both nibbles of the first, low nibbles after (AVX2).
  auto passes = [](const std::vector<std::string>& ws, KeyFilter::Engine e, std::string_view t, size_t p) {
    for (size_t j = 0; j < 4; ++j) {
      auto x = static_cast<unsigned char>(t[p + j]);
      bool any = false;
      for (const auto& w : ws)
        for (char c : {ascii_lower(w[j]), ascii_upper(w[j])}) {
          auto y = static_cast<unsigned char>(c);
          any |= e == KeyFilter::Engine::avx512 ? (x & 63) == (y & 63)
                                                : (x & 15) == (y & 15) && (j > 0 || x >> 4 == y >> 4);
        }
      if (!any) return false;
    }
    return true;
  };
  for (auto e : {KeyFilter::Engine::avx512, KeyFilter::Engine::avx2})
    for (const std::vector<std::string>& ws : std::vector<std::vector<std::string>>{
             {"st t", "seal"}, {"st t"}, {"stat", "tpm "}, {"sect", "host", "seal"}, {"qzjx", "st t"}}) {
      size_t n = 0;
      for (size_t p = 0; p + 4 <= text.size(); ++p) n += passes(ws, e, text, p);
      double counted = static_cast<double>(n) / static_cast<double>(text.size() - 3);
      double estimated = KeyFilter::pass_rate(ws, bf, e);
      INFO(KeyFilter::name(e) << ": " << ws[0] << (ws.size() > 1 ? " + " + ws[1] : "") << ": counted " << counted
                              << ", estimated " << estimated);
      // Byte frequencies alone estimate 11-60x too low here; the chain,
      // blind to what came two bytes before, at most ~7x.
      CHECK(estimated > counted / 8);
      CHECK(estimated < counted * 3);
    }
}

// CommonCheck (prefilter_build.h) counts lines per 3 bytes in one pass; a key
// is common when more than max(lines / 100, 5) lines hold it: checked against
// counting the lines by hand, for keys near the text's end and texts without
// a final newline.
TEST_CASE("common keys: as counting the lines that hold them", "[keyfilter]") {
  std::mt19937 rng(7);
  const std::vector<std::string> words = {"tpm", "Loading", "module", "vmkernel", "abc", "xyz", "cpu1:", "IOMMU"};
  for (int round = 0; round < 20; ++round) {
    std::string text;
    std::uniform_int_distribution<size_t> pick(0, words.size() - 1), per(1, 6), rare(0, 40 + round * 10);
    size_t lines = 500 + static_cast<size_t>(round) * 37;
    for (size_t l = 0; l < lines; ++l) {
      for (size_t w = per(rng); w > 0; --w) text += words[pick(rng)] + " ";
      if (rare(rng) == 0) text += "Rarekey";
      text += l + 1 < lines || round % 2 ? "\n" : "tail";
    }
    prefilter::CommonCheck common(text);
    std::vector<std::string> keys = {"rarekey", "tpm", "loading mod", "xyz", "ail", "tail", "zzz", "le v"};
    for (const auto& k : keys) {
      size_t holding = 0, n = 0;
      for (size_t from = 0; from < text.size();) {
        size_t eol = text.find('\n', from);
        if (eol == std::string::npos) eol = text.size();
        ++n;
        if (tpmdiag::icontains(std::string_view(text).substr(from, eol - from), k)) ++holding;
        from = eol + 1;
      }
      size_t newlines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
      bool want = newlines >= 500 && holding > std::max<size_t>(newlines / 100, 5);
      INFO("round " << round << " key '" << k << "' in " << holding << " of " << n << " lines");
      REQUIRE(common(k) == want);
    }
  }
}
