// Format files as data (parsers/format.h): every embedded format's samples
// pass, and a wrong format file is a load error naming file, format and field.
#include <catch2/catch.hpp>

#include "parsers/format.h"

using namespace tpmdiag;

namespace {

std::string load_error(const std::string& json) {
  auto f = load_formats({{"test/formats.json", json}});
  return f ? "" : f.error().message;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("formats: the embedded files load and every sample passes", "[formats]") {
  auto files = collect_data_files("parsers/formats/", {});
  REQUIRE(files);
  auto set = load_formats(*files);
  if (!set) FAIL(set.error().message);
  CHECK(set->self_test().empty());
  size_t samples = 0;
  for (const auto& f : set->formats()) samples += f.samples.size();
  CHECK(samples >= 40);
  for (const char* name : {"esxi8-vmkernel", "esxi8-syslog-file", "esxi7-vmkernel", "esxi7-daemon", "esxi8-vobd",
                           "esxi7-vobd", "syslog-rfc5424", "syslog-rfc3164", "syslog-pri-iso",
                           "rsyslog-traditional-file", "rsyslog-rfc3339-file", "json-lines", "esxcli-prompt"})
    CHECK(set->find(name) != nullptr);
}

TEST_CASE("formats: a wrong sample is a load error naming file, format and field", "[formats]") {
  auto e = load_error(R"J({"formats": [{"name": "f1", "pattern": "cpu(?P<message>.*)",
      "samples": [{"line": "cpu x", "fields": {"kind": "vmkernel"}}]}]})J");
  CHECK(has(e, "test/formats.json"));
  CHECK(has(e, "format 'f1'"));
  CHECK(has(e, "field 'kind'"));
  CHECK(has(e, "expected 'vmkernel'"));
  e = load_error(R"J({"formats": [{"name": "f2", "pattern": "cpu(?P<message>.*)",
      "samples": [{"line": "no", "fields": {}}]}]})J");
  CHECK(has(e, "format 'f2'"));
  CHECK(has(e, "does not match"));
  e = load_error(R"J({"formats": [{"name": "f3", "pattern": "(", "samples": [{"line": "x"}]}]})J");
  CHECK(has(e, "format 'f3': field 'pattern'"));
  e = load_error(R"J({"formats": [{"name": "f4", "pattern": "x", "samples": []}]})J");
  CHECK(has(e, "field 'samples'"));
  e = load_error(R"J({"formats": [{"name": "f5", "type": "json", "samples": [{"line": "{}"}]}]})J");
  CHECK(has(e, "format 'f5': field 'keys'"));
  e = load_error(R"J({"formats": [{"name": "f6", "type": "nope", "pattern": "x", "samples": [{"line": "x"}]}]})J");
  CHECK(has(e, "field 'type'"));
  e = load_error(R"J({"formats": [{"name": "f7", "pattern": "x", "samples": [{"line": "x", "fields": {"colour": "x"}}]}]})J");
  CHECK(has(e, "field 'colour'"));
  e = load_error(R"J({"formats": [{"name": "f8", "patern": "x", "samples": [{"line": "x"}]}]})J");
  CHECK(has(e, "patern"));
  // A sample taken by an earlier format is refused too.
  e = load_error(R"J({"formats": [{"name": "a", "pattern": "x.*", "samples": [{"line": "x1"}]},
                                 {"name": "b", "pattern": "x1", "samples": [{"line": "x1"}]}]})J");
  CHECK(has(e, "format 'b'"));
  CHECK(has(e, "parsed by format 'a'"));
}
