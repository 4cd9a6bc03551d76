// Unit tests for the text normaliser (common/normalize.h): every mapped code
// point, pass-through of everything else (valid or not), the no-copy path,
// and an exhaustive check of all 2- and 3-byte sequences against a reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/normalize.h"
#include "common/text.h"

using namespace tpmdiag;

namespace {

std::string norm(std::string_view s) {
  std::string buf;
  return std::string(normalize_text(s, buf));
}

// UTF-8 encoding of a code point below U+10000.
std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// The specification of normalize.h, one code point at a time: the ASCII it
// becomes, "" when dropped, or nullptr when it is kept as is.
const char* reference(char32_t cp) {
  if (cp == 0x00A0 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000) return " ";
  if ((cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF || cp == 0x00AD) return "";
  if (cp >= 0x2018 && cp <= 0x201B) return "'";
  if (cp >= 0x201C && cp <= 0x201F) return "\"";
  if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212) return "-";
  return nullptr;
}

}  // namespace

TEST_CASE("normalize: ASCII is returned as the same view, no copy", "[normalize]") {
  std::string buf = "untouched";
  std::string_view in = "2021-10-29T19:41:29.399Z error hostd[2099349] Tpm2Cmd: CreatePrimary: (0x9a2) Unknown";
  CHECK_FALSE(needs_normalize(in));
  auto out = normalize_text(in, buf);
  CHECK(out.data() == in.data());
  CHECK(out.size() == in.size());
  CHECK(buf == "untouched");
  CHECK_FALSE(needs_normalize(""));
  CHECK(normalize_text("", buf).empty());
}

TEST_CASE("normalize: no-break and other Unicode spaces become one space each", "[normalize]") {
  CHECK(norm("TPM\xC2\xA0" "2 SHA-256") == "TPM 2 SHA-256");
  CHECK(norm("a\xC2\xA0\xC2\xA0" "b") == "a  b");  // runs kept, one space per character
  CHECK(norm("a\xE2\x80\x80" "b") == "a b");        // U+2000 en quad
  CHECK(norm("a\xE2\x80\x87" "b") == "a b");        // U+2007 figure space
  CHECK(norm("a\xE2\x80\x8A" "b") == "a b");        // U+200A hair space
  CHECK(norm("a\xE2\x80\xAF" "b") == "a b");        // U+202F narrow no-break space
  CHECK(norm("a\xE2\x81\x9F" "b") == "a b");        // U+205F medium mathematical space
  CHECK(norm("a\xE3\x80\x80" "b") == "a b");        // U+3000 ideographic space
}

TEST_CASE("normalize: zero-width characters, soft hyphen and BOM are dropped", "[normalize]") {
  CHECK(norm("\xEF\xBB\xBFtpmDriver") == "tpmDriver");
  CHECK(norm("Tpm\xE2\x80\x8B" "2Cmd") == "Tpm2Cmd");   // U+200B
  CHECK(norm("a\xE2\x80\x8C\xE2\x80\x8D" "b") == "ab");  // U+200C, U+200D
  CHECK(norm("a\xE2\x81\xA0" "b") == "ab");              // U+2060 word joiner
  CHECK(norm("endorse\xC2\xADment") == "endorsement");   // U+00AD soft hyphen
  CHECK(norm("\xEF\xBB\xBF") == "");
}

TEST_CASE("normalize: curly quotes, dashes and minus become ASCII", "[normalize]") {
  CHECK(norm("Unsupported \xE2\x80\x98startMethod\xE2\x80\x99: 7") == "Unsupported 'startMethod': 7");
  CHECK(norm("couldn\xE2\x80\x99t perform TIS init") == "couldn't perform TIS init");
  CHECK(norm("\xE2\x80\x9CInternal Error\xE2\x80\x9D") == "\"Internal Error\"");
  CHECK(norm("\xE2\x80\x9A" "a\xE2\x80\x9B \xE2\x80\x9E" "b\xE2\x80\x9F") == "'a' \"b\"");
  CHECK(norm("SHA\xE2\x80\x90" "256") == "SHA-256");           // U+2010 hyphen
  CHECK(norm("Kernel\xE2\x80\x91" "based") == "Kernel-based");  // U+2011 non-breaking hyphen
  CHECK(norm("a \xE2\x80\x93 b \xE2\x80\x94 c \xE2\x80\x95 d") == "a - b - c - d");
  CHECK(norm("\xE2\x88\x92" "1") == "-1");  // U+2212 minus sign
}

TEST_CASE("normalize: other UTF-8 and invalid bytes pass through byte for byte", "[normalize]") {
  for (std::string s : {std::string("caf\xC3\xA9"), std::string("\xE2\x82\xAC 5"),  // é, €
                        std::string("\xF0\x9F\x98\x80"),                            // 4-byte emoji
                        std::string("\xE2\x80"),                                    // truncated U+20xx
                        std::string("\xC2"),                                        // lone lead byte
                        std::string("\xA0\xA0"),                                    // stray continuation bytes
                        std::string("\xC0\xA0"),                                    // overlong space
                        std::string("\xE0\x80\xA0"),                                // overlong U+0020
                        std::string("\xED\xA0\x80"),                                // surrogate
                        std::string("\xFF\xFE"),                                    // never valid
                        std::string("a\0b", 3)}) {                                  // NUL
    CAPTURE(s);
    CHECK_FALSE(needs_normalize(s));
    CHECK(norm(s) == s);
  }
  // Invalid bytes next to a mapped character: the bytes stay, the character maps.
  CHECK(norm(std::string("\xFF\xC2\xA0\xE2\x80")) == std::string("\xFF \xE2\x80"));
  CHECK(norm(std::string("\xE2\x80\xE2\x80\x99")) == std::string("\xE2\x80'"));
  CHECK(norm(std::string("\xC3\xA9\xC2\xA0\xC3\xA9")) == std::string("\xC3\xA9 \xC3\xA9"));
}

TEST_CASE("normalize: the mapped character anywhere in a long line", "[normalize]") {
  // Exercises the 8-byte word scan on both sides of the character.
  const std::string base = "2021-10-29T19:41:29.399Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd:";
  for (size_t at = 0; at <= base.size(); ++at) {
    std::string s = base.substr(0, at) + "\xC2\xA0" + base.substr(at);
    CAPTURE(at);
    CHECK(needs_normalize(s));
    CHECK(norm(s) == base.substr(0, at) + " " + base.substr(at));
  }
}

TEST_CASE("normalize: buf is reused and the result never grows", "[normalize]") {
  std::string buf;
  auto a = normalize_text("x\xC2\xA0y", buf);
  CHECK(a == "x y");
  CHECK(a.data() == buf.data());
  auto b = normalize_text("\xE2\x80\x9Cq\xE2\x80\x9D", buf);
  CHECK(b == "\"q\"");
  CHECK(buf == "\"q\"");
  std::string big;
  for (int i = 0; i < 1000; ++i) big += "a\xE2\x80\x83";
  CHECK(normalize_text(big, buf).size() == 2000);
}

TEST_CASE("normalize: every 1-, 2- and 3-byte code point agrees with the reference", "[normalize]") {
  std::string buf;
  for (char32_t cp = 1; cp < 0x10000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // surrogates are not encodable
    std::string s = "<" + utf8(cp) + ">";
    const char* want = reference(cp);
    std::string expected = want ? "<" + std::string(want) + ">" : s;
    auto got = normalize_text(s, buf);
    if (got != expected || needs_normalize(s) != (want != nullptr)) {
      CAPTURE(static_cast<unsigned>(cp));
      CHECK(std::string(got) == expected);
      CHECK(needs_normalize(s) == (want != nullptr));
    }
  }
}

TEST_CASE("normalize: every byte pair and lead-byte triple keeps the invariants", "[normalize]") {
  // Differential on raw bytes (valid or not): normalising is idempotent,
  // never grows the text, and needs_normalize agrees with whether it changed.
  std::string buf, buf2;
  for (int a = 0x80; a < 0x100; ++a)
    for (int b = 0; b < 0x100; ++b)
      for (int c : {0x00, 0x41, 0x80, 0x92, 0x9C, 0xA0, 0xAF, 0xBF, 0xC2, 0xE2}) {
        std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        auto once = std::string(normalize_text(s, buf));
        auto twice = std::string(normalize_text(once, buf2));
        bool changed = once != s;
        if (once.size() > s.size() || twice != once || needs_normalize(s) != changed) {
          CAPTURE(a, b, c);
          CHECK(once.size() <= s.size());
          CHECK(twice == once);
          CHECK(needs_normalize(s) == changed);
        }
      }
}

// icontains() jumps between first bytes with memchr; a caseless std::search
// is its reference. Short alphabets make near-misses and overlaps common.
TEST_CASE("icontains finds what a caseless search finds", "[normalize][differential]") {
  auto slow = [](std::string_view h, std::string_view n) {
    return std::search(h.begin(), h.end(), n.begin(), n.end(), [](char x, char y) {
             return tpmdiag::ascii_lower(x) == tpmdiag::ascii_lower(y);
           }) != h.end() || n.empty();
  };
  uint64_t seed = 11;
  auto rnd = [&] { return seed = seed * 6364136223846793005ULL + 1442695040888963407ULL, seed >> 33; };
  const std::string alphabet = "aAbB1@[{\x80\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string h, n;
    for (size_t k = rnd() % 24; k > 0; --k) h += alphabet[rnd() % alphabet.size()];
    for (size_t k = rnd() % 5; k > 0; --k) n += alphabet[rnd() % alphabet.size()];
    INFO(h << " / " << n);
    REQUIRE(tpmdiag::icontains(h, n) == slow(h, n));
  }
  CHECK(tpmdiag::icontains("Tpm2Cmd: CreatePrimary", "createprimary"));
  CHECK(!tpmdiag::icontains("tpm", "tpm2"));
}

TEST_CASE("ascii_lower: eight bytes at a time as byte by byte, every byte value at every lane", "[normalize]") {
  for (size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 64, 300}) {
    for (int shift = 0; shift < 256; shift += 1) {
      std::string s(len, '\0');
      for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>((i * 37 + static_cast<size_t>(shift)) & 0xff);
      std::string want = s;
      for (char& c : want) c = tpmdiag::ascii_lower(c);
      REQUIRE(tpmdiag::ascii_lower(std::string_view(s)) == want);
    }
  }
  CHECK(tpmdiag::ascii_lower(std::string_view("Tpm2Cmd: CreatePrimary @[Z`\xc3\x89")) == "tpm2cmd: createprimary @[z`\xc3\x89");
}
