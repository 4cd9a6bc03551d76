// JsonWriter: the fast escape against a byte-by-byte reference, the buffer
// handing the stream whole values, and arrays written on two threads.
#include <catch2/catch.hpp>

#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>

#include "common/json_writer.h"
#include "common/text.h"

using tpmdiag::JsonWriter;

namespace {

// The escape as it was written first, one byte at a time: the reference.
std::string reference_escape(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = tpmdiag::utf8_len(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    static const char* hex = "0123456789abcdef";
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7F) out += std::string("\\u00") + hex[c >> 4] + hex[c & 15];
    else out.push_back(static_cast<char>(c));
    ++i;
  }
  return out + "\"";
}

}  // namespace

TEST_CASE("JsonWriter::escape equals the byte-by-byte reference", "[json]") {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string out;
  JsonWriter::escape(all, out);
  CHECK(out == reference_escape(all));

  std::mt19937 rng(7);
  const std::string pieces[] = {"Tpm2Cmd", " ", "\"", "\\", "\n", "\x01", "\x7F", "\xC3\xA9", "\xE2\x82\xAC",
                                "\xF0\x9F\x98\x80", "\xC3", "\xFF", "\xED\xA0\x80", ""};
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) s += pieces[rng() % std::size(pieces)];
    out.clear();
    JsonWriter::escape(s, out);
    CHECK(out == reference_escape(s));
  }
}

TEST_CASE("JsonWriter::escape: every byte at every place of the 16- and 8-byte steps", "[json]") {
  std::string out;
  for (int c = 0; c < 256; ++c)
    for (size_t at = 0; at < 44; ++at) {  // two 16-byte steps, an 8-byte one, 4 single bytes
      std::string s(44, 'a');
      s[at] = static_cast<char>(c);
      out.clear();
      JsonWriter::escape(s, out);
      CHECK(out == reference_escape(s));
    }
}

// Short strings are checked with overlapping reads of their last 16 or 8
// bytes: every length up to 40, plain, and with each byte value at each place.
TEST_CASE("JsonWriter::escape: strings of every length up to 40, one byte changed anywhere", "[json]") {
  std::string out;
  for (size_t len = 0; len <= 40; ++len) {
    std::string s(len, 'q');
    out.clear();
    JsonWriter::escape(s, out);
    CHECK(out == reference_escape(s));
    for (int c : {0x00, 0x1F, 0x20, int{'"'}, int{'\\'}, 0x7E, 0x7F, 0x80, 0xC3, 0xFF})
      for (size_t at = 0; at < len; ++at) {
        std::string t = s;
        t[at] = static_cast<char>(c);
        out.clear();
        JsonWriter::escape(t, out);
        INFO("length " << len << ", byte " << c << " at " << at);
        CHECK(out == reference_escape(t));
      }
  }
}

TEST_CASE("JsonWriter hands the stream whole values, large ones in pieces", "[json]") {
  std::ostringstream os;
  {
    JsonWriter w(os);
    w.begin_object().key("a").integer(1);
    CHECK(os.str().empty());  // buffered until the value is whole
    w.end_object();
    CHECK(os.str() == "{\"a\":1}");
    os << '\n';
    w.string("x");
    CHECK(os.str() == "{\"a\":1}\n\"x\"");
  }
  std::ostringstream big;
  JsonWriter w(big, 2);
  w.begin_array();
  for (int i = 0; i < 20000; ++i) w.string("some log line text");
  size_t before_end = big.str().size();
  w.end_array();
  size_t total = big.str().size();
  CHECK(total > 20000u * 20u);
  CHECK(big.str().back() == ']');
  CHECK(before_end > 0);
  CHECK(total - before_end < 70000u);  // the buffer stays bounded: at most 64 KiB and one value held back
}

namespace {

// One array element of a few shapes: nested objects and arrays (empty ones
// too), strings long enough that parts pass the 64 KiB flush.
void element(JsonWriter& w, size_t i) {
  switch (i % 4) {
    case 0: w.integer(static_cast<int64_t>(i)); break;
    case 1: w.begin_object().key("i").integer(static_cast<int64_t>(i)).key("s").string(std::string(i % 300, 'x')).end_object(); break;
    case 2: w.begin_array().end_array(); break;
    default:
      w.begin_object().key("list").begin_array();
      for (size_t k = 0; k < i % 5; ++k) w.string("line " + std::to_string(k));
      w.end_array().key("empty").begin_object().end_object().end_object();
  }
}

// A document with an array written by `fill`, an element before it or not.
std::string document(int indent, bool before, const std::function<void(JsonWriter&)>& fill) {
  std::ostringstream os;
  {
    JsonWriter w(os, indent);
    w.begin_object().key("a").begin_array();
    if (before) w.string("first");
    fill(w);
    w.end_array().key("b").integer(1).end_object();
  }
  return os.str();
}

}  // namespace

// items() writes parts on two threads and hands them on in order: the output
// must be what one writer writes, whatever the split.
TEST_CASE("JsonWriter::items writes what one writer would", "[json]") {
  for (int indent : {0, 2})
    for (bool before : {false, true})
      for (size_t n : {0, 1, 2, 3, 255, 256, 257, 1000, 5000})
        for (size_t per_part : {1, 2, 7, 256, 100000}) {
          std::string one = document(indent, before, [&](JsonWriter& w) {
            for (size_t i = 0; i < n; ++i) element(w, i);
          });
          std::string parts = document(indent, before, [&](JsonWriter& w) { w.items(n, element, per_part); });
          INFO("indent " << indent << ", element before " << before << ", n " << n << ", per part " << per_part);
          REQUIRE(parts == one);
        }
  // Parts holding arrays written with items() themselves.
  auto nested = [](JsonWriter& w, size_t i) {
    w.begin_array();
    w.items(i % 9, element, 2);
    w.end_array();
  };
  std::string one = document(2, false, [&](JsonWriter& w) {
    for (size_t i = 0; i < 300; ++i) {
      w.begin_array();
      for (size_t k = 0; k < i % 9; ++k) element(w, k);
      w.end_array();
    }
  });
  CHECK(document(2, false, [&](JsonWriter& w) { w.items(300, nested, 16); }) == one);
}

TEST_CASE("JsonWriter::items: a part that throws ends the call with its exception", "[json]") {
  for (size_t bad : {0, 5, 999}) {
    std::ostringstream os;
    JsonWriter w(os);
    w.begin_array();
    auto one = [&](JsonWriter& part, size_t i) {
      if (i == bad) throw std::runtime_error("part " + std::to_string(i));
      part.integer(static_cast<int64_t>(i));
    };
    CHECK_THROWS_WITH(w.items(1000, one, 4), "part " + std::to_string(bad));
  }
}

// key() writes a plain short key in one piece, others as it writes strings:
// both must give the same text, compact and indented, at any depth.
TEST_CASE("JsonWriter::key: plain, escaped and long keys, compact and indented", "[json]") {
  const std::string longkey(200, 'k');
  for (int indent : {0, 2}) {
    std::ostringstream os;
    {
      JsonWriter w(os, indent);
      w.begin_object().key("a").integer(1).key("b\"q").integer(2).key(longkey).integer(3);
      w.key("o").begin_object().key("in").begin_array().begin_object().key("x").string("y").end_object().end_array();
      w.end_object().key("").null().end_object();
    }
    std::string nl = indent ? "\n" : "", sp = indent ? " " : "";
    auto pad = [&](int depth) { return nl + std::string(static_cast<size_t>(depth * indent), ' '); };
    std::string want = "{" + pad(1) + "\"a\":" + sp + "1," + pad(1) + "\"b\\\"q\":" + sp + "2," + pad(1) + "\"" +
                       longkey + "\":" + sp + "3," + pad(1) + "\"o\":" + sp + "{" + pad(2) + "\"in\":" + sp + "[" +
                       pad(3) + "{" + pad(4) + "\"x\":" + sp + "\"y\"" + pad(3) + "}" + pad(2) + "]" + pad(1) + "}," +
                       pad(1) + "\"\":" + sp + "null" + nl + "}" + nl;
    INFO("indent " << indent);
    CHECK(os.str() == want);
  }
}

// The buffer grows by what a token needs, however large: a string longer
// than twice what is buffered, and an indent deeper than the spaces kept.
TEST_CASE("JsonWriter: a string larger than the buffer, an indent deeper than 64", "[json]") {
  const std::string big(300000, 'b'), quoted = "say \"" + std::string(100000, 'q') + "\"";
  std::ostringstream os;
  {
    JsonWriter w(os, 2);
    for (int d = 0; d < 40; ++d) w.begin_array();
    w.string(big).string(quoted);
    for (int d = 0; d < 40; ++d) w.end_array();
  }
  std::string want;
  for (int d = 0; d < 40; ++d) want += "[" + std::string(d < 39 ? "\n" + std::string(static_cast<size_t>(2 * (d + 1)), ' ') : "");
  want += "\n" + std::string(80, ' ') + "\"" + big + "\",\n" + std::string(80, ' ') + "\"say \\\"" +
          std::string(100000, 'q') + "\\\"\"";
  for (int d = 39; d >= 0; --d) want += "\n" + std::string(static_cast<size_t>(2 * d), ' ') + "]";
  CHECK(os.str() == want);
}

// A writer moved with output still buffered: the output goes out once, by
// the writer it moved to; the moved-from one writes nothing.
TEST_CASE("JsonWriter: moved with output buffered", "[json]") {
  std::ostringstream os;
  {
    JsonWriter a(os, 2);
    a.begin_object().key("k").string(std::string(1000, 'v'));
    JsonWriter b(std::move(a));
    b.key("n").integer(1).end_object();
  }
  CHECK(os.str() == "{\n  \"k\": \"" + std::string(1000, 'v') + "\",\n  \"n\": 1\n}\n");
}
