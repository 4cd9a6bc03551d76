// libFuzzer target: JSON Lines input from log forwarders (parsers/envelope.h):
// JsonUnwrapper::unwrap with the keys of parsers/formats/json-lines.json, plus
// the RFC 5424 structured-data and PRI helpers.
//
// Each input line is unwrapped; the record's views must stay readable until
// the next unwrap, and a record's message, re-parsed as a line, must not crash
// either (FormatSet::parse does that for a json format). Also exercised:
// sd_param on the line as structured data, severity_from_pri on it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parsers/envelope.h"
#include "parsers/format.h"

using namespace tpmdiag;

namespace {

struct Setup {
  FormatSet set;
  JsonKeys keys;
};

const Setup& setup() {
  static const Setup* s = [] {
    auto files = collect_data_files("parsers/formats/", {});
    if (!files) std::abort();
    auto f = load_formats(*files);
    if (!f) std::abort();
    auto* out = new Setup{std::move(*f), {}};
    for (const Format& fm : out->set.formats())
      if (fm.type == FormatType::json) out->keys = fm.keys;
    if (out->keys.message.empty()) std::abort();
    return out;
  }();
  return *s;
}

volatile size_t g_sink;

void touch(std::string_view v) {
  size_t s = 0;
  for (char c : v) s += static_cast<unsigned char>(c);
  g_sink = g_sink + s;
}

void one(std::string_view line, JsonUnwrapper& json, ParseScratch& scratch) {
  const Setup& s = setup();
  JsonRecord rec;
  if (json.unwrap(s.keys, line, rec)) {
    touch(rec.message);
    touch(rec.host);
    touch(rec.program);
    touch(rec.time_text);
    touch(rec.severity_text);
    if (rec.severity_num < -1 || rec.severity_num > 7) std::abort();
  }
  // The same line through the whole format set (json -> envelope -> line).
  Event ev;
  s.set.parse(line, ev, scratch);
  touch(ev.message);
  touch(ev.host);
  std::string storage;
  for (const char* name : {"sub", "a", "x"}) touch(sd_param(line, name, storage));
  (void)severity_from_pri(line);
  (void)severity_from_syslog(static_cast<int>(line.size() % 11) - 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static JsonUnwrapper json;  // reused, as the scanner does
  static ParseScratch scratch;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  one(all, json, scratch);
  size_t start = 0;
  int lines = 0;
  while (start < all.size() && lines < 32) {
    size_t nl = all.find('\n', start);
    if (nl == std::string_view::npos) nl = all.size();
    one(all.substr(start, nl - start), json, scratch);
    start = nl + 1;
    ++lines;
  }
  return 0;
}
