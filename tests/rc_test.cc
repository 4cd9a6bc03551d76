// Unit tests for the TPM response-code decoder (kb/rc.h), its ESXi context
// loader and the `tpmdiag rc` command. The exhaustive comparison with
// tpm2_rc_decode lives in rc_oracle_test.cc.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "cli/commands.h"

namespace tpmdiag::cli {
int cmd_rc(const Args& args);
}
#include "common/embedded.h"
#include "kb/rc.h"
#include "support.h"

using namespace tpmdiag;
using rc::Kind;

TEST_CASE("rc: the three codes hostd prints", "[rc]") {
  auto d = rc::decode(0x18b);  // NV_ReadPublic: (0x18b) Unknown
  CHECK(d.raw == 0x18b);
  CHECK(d.layer == 0);
  CHECK(d.layer_name == "tpm");
  CHECK(d.format == 1);
  CHECK(d.name == "TPM_RC_HANDLE");
  CHECK(d.kind == Kind::handle);
  CHECK(d.index == 1);
  CHECK(d.description == "the handle is not correct for the use");

  d = rc::decode(0x9a2);  // CreatePrimary: (0x9a2) Unknown
  CHECK(d.format == 1);
  CHECK(d.name == "TPM_RC_BAD_AUTH");
  CHECK(d.kind == Kind::session);
  CHECK(d.index == 1);
  CHECK(d.description == "authorization failure without DA implications");

  d = rc::decode(0x921);  // DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT
  CHECK(d.format == 0);
  CHECK(d.name == "TPM_RC_LOCKOUT");
  CHECK(d.kind == Kind::warning);
  CHECK(d.index == 0);
  CHECK(d.description.find("lockout") != std::string::npos);
}

TEST_CASE("rc: layered codes", "[rc]") {
  auto d = rc::decode(0x000b0921);  // resource manager relays the TPM's lockout
  CHECK(d.layer == 11);
  CHECK(d.layer_name == "rmt");
  CHECK(d.name == "TPM_RC_LOCKOUT");
  CHECK(d.kind == Kind::warning);
  CHECK(rc::format_code(d.raw) == "0x000b0921");

  d = rc::decode(0x0008000b);
  CHECK(d.layer == 8);
  CHECK(d.layer_name == "sys");
  CHECK(d.kind == Kind::tss);
  CHECK(d.format == 0);
  CHECK(d.name == "TSS2_SYS_RC_BAD_VALUE");
  CHECK(d.description == "sys layer: a parameter has a bad value");

  // A base code that the layer does not declare keeps the base name.
  CHECK(rc::decode(0x00090001).name == "TSS2_MU_RC_GENERAL_FAILURE");
  CHECK(rc::decode(0x00090002).name == "TSS2_BASE_RC_NOT_IMPLEMENTED");
  CHECK(rc::decode(0x000a000a).name == "TSS2_TCTI_RC_IO_ERROR");
  CHECK(rc::decode(0x00070000).kind == Kind::success);
  CHECK(rc::decode(0x0007f801).description.find("implementation-specific") != std::string::npos);

  CHECK(rc::layer_name(0) == "tpm");
  CHECK(rc::layer_name(6) == "fapi");
  CHECK(rc::layer_name(7) == "esapi");
  CHECK(rc::layer_name(9) == "mu");
  CHECK(rc::layer_name(10) == "tcti");
  CHECK(rc::layer_name(12) == "rm");
  CHECK(rc::layer_name(13) == "policy");
  CHECK(rc::layer_name(1) == "1");
  CHECK(rc::layer_name(200) == "200");
  d = rc::decode(0x00050001);
  CHECK(d.layer_name == "5");
  CHECK(d.kind == Kind::tss);
  CHECK(d.name.empty());
}

TEST_CASE("rc: TPM 1.2 codes", "[rc]") {
  auto d = rc::decode(0x007);
  CHECK(d.kind == Kind::tpm12);
  CHECK(d.name == "TPM_DISABLED");
  CHECK(rc::decode(0x803).name == "TPM_DEFEND_LOCK_RUNNING");
  CHECK(rc::decode(0x803).kind == Kind::tpm12);
  CHECK(rc::decode(0x800).name == "TPM_RETRY");
  CHECK(rc::decode(0x01c).name == "TPM_FAILEDSELFTEST");
  // 0x01E is TPM_RC_BAD_TAG in TPM 2.0 ("for compatibility with TPM 1.2").
  CHECK(rc::decode(0x01e).name == "TPM_RC_BAD_TAG");
  CHECK(rc::decode(0x01e).kind == Kind::tpm12);
  d = rc::decode(0x005);  // not in our table
  CHECK(d.kind == Kind::tpm12);
  CHECK(d.name.empty());
  CHECK(d.description.find("TPM 1.2") != std::string::npos);
  CHECK(rc::decode(0x87f).kind == Kind::tpm12);
}

TEST_CASE("rc: vendor codes", "[rc]") {
  for (uint32_t c : {0x500u, 0x57fu, 0x700u, 0xd00u, 0xd21u, 0xf7fu}) {
    INFO(rc::format_code(c));
    auto d = rc::decode(c);
    CHECK(d.kind == Kind::vendor);
    CHECK(d.name.empty());
    CHECK(d.index == 0);
    CHECK(d.description.find("vendor-defined") != std::string::npos);
  }
  CHECK(rc::decode(0xd21).description.find("warning") != std::string::npos);
}

TEST_CASE("rc: format one handle, session, parameter numbers", "[rc]") {
  auto d = rc::decode(0x9c4);  // TPM_RC_VALUE + TPM_RC_P + TPM_RC_9
  CHECK(d.kind == Kind::parameter);
  CHECK(d.index == 9);
  CHECK(d.name == "TPM_RC_VALUE");
  CHECK(rc::decode(0xfc4).index == 15);
  CHECK(rc::decode(0x1c4).index == 1);
  d = rc::decode(0x0c4);  // parameter error naming no parameter
  CHECK(d.kind == Kind::parameter);
  CHECK(d.index == 0);
  CHECK(rc::decode(0x084).kind == Kind::handle);
  CHECK(rc::decode(0x784).index == 7);
  CHECK(rc::decode(0xf84).kind == Kind::session);
  CHECK(rc::decode(0xf84).index == 7);
  d = rc::decode(0x880);  // format one, session, no error number
  CHECK(d.kind == Kind::session);
  CHECK(d.index == 0);
  CHECK(d.name.empty());
  CHECK(rc::decode(0x185).name == "TPM_RC_HIERARCHY");
  CHECK(rc::decode(0x98e).name == "TPM_RC_AUTH_FAIL");
}

TEST_CASE("rc: format zero edge cases", "[rc]") {
  auto d = rc::decode(0);
  CHECK(d.kind == Kind::success);
  CHECK(d.name == "TPM_RC_SUCCESS");
  CHECK(rc::decode(0x101).name == "TPM_RC_FAILURE");
  CHECK(rc::decode(0x101).kind == Kind::error);
  d = rc::decode(0x102);  // unassigned error number
  CHECK(d.kind == Kind::error);
  CHECK(d.name.empty());
  CHECK(d.description.find("unassigned") != std::string::npos);
  CHECK(rc::decode(0x17f).name.empty());  // TPM_RC_MAX_FM0 is a limit, not a code
  CHECK(rc::decode(0x97f).name == "TPM_RC_NOT_USED");
  d = rc::decode(0xb21);  // reserved bit 9 set
  CHECK(d.kind == Kind::warning);
  CHECK(d.name.empty());
  CHECK(d.description.find("reserved bit 9") != std::string::npos);
  CHECK(d.description.find("TPM_RC_LOCKOUT") != std::string::npos);
  CHECK(rc::decode(0x0000f921).description.find("bits outside") != std::string::npos);
}

TEST_CASE("rc: names and formatting helpers", "[rc]") {
  CHECK(rc::kind_name(Kind::success) == "success");
  CHECK(rc::kind_name(Kind::error) == "error");
  CHECK(rc::kind_name(Kind::warning) == "warning");
  CHECK(rc::kind_name(Kind::handle) == "handle");
  CHECK(rc::kind_name(Kind::session) == "session");
  CHECK(rc::kind_name(Kind::parameter) == "parameter");
  CHECK(rc::kind_name(Kind::vendor) == "vendor");
  CHECK(rc::kind_name(Kind::tpm12) == "tpm12");
  CHECK(rc::kind_name(Kind::tss) == "tss");
  CHECK(rc::format_code(0x9a2) == "0x9a2");
  CHECK(rc::format_code(0x1e) == "0x01e");
  CHECK(rc::format_code(0xffffffff) == "0xffffffff");
  CHECK(rc::location(rc::decode(0x9a2)) == "session 1");
  CHECK(rc::location(rc::decode(0x084)) == "handle");
  CHECK(rc::location(rc::decode(0x921)) == "warning");
}

TEST_CASE("rc: parse_code accepts the forms logs use", "[rc]") {
  for (const char* text : {"0x9a2", "0X9A2", "2466", "(0x9a2)", "  0x9a2 ", "( 0x9a2 )", "\t2466\n", "0x00000009a2"}) {
    INFO(text);
    auto r = rc::parse_code(text);
    REQUIRE(r.ok());
    CHECK(*r == 0x9a2);
  }
  CHECK(*rc::parse_code("0") == 0);
  CHECK(*rc::parse_code("0xffffffff") == 0xffffffffu);
  CHECK(*rc::parse_code("4294967295") == 0xffffffffu);
  CHECK(*rc::parse_code("0x000b0921") == 0x000b0921u);
}

TEST_CASE("rc: parse_code rejects bad text with one-line errors", "[rc]") {
  auto message = [](std::string_view text) {
    auto r = rc::parse_code(text);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(message("zzz") == "invalid TPM response code 'zzz': not a number");
  CHECK(message("") == "invalid TPM response code '': empty");
  CHECK(message("   ") == "invalid TPM response code '   ': empty");
  CHECK(message("()") == "invalid TPM response code '()': empty");
  CHECK(message("0x1ffffffff") == "invalid TPM response code '0x1ffffffff': larger than 0xffffffff");
  CHECK(message("4294967296") == "invalid TPM response code '4294967296': larger than 0xffffffff");
  CHECK(message("0x") == "invalid TPM response code '0x': no digits after 0x");
  CHECK(message("(0x9a2") == "invalid TPM response code '(0x9a2': unbalanced parenthesis");
  CHECK(message("9a2").find("write hex with 0x") != std::string::npos);
  for (const char* bad : {"-1", "+5", "0x-1", "1 2", "0x9a2h", "0xg", "((0x1))", "1.5"}) {
    INFO(bad);
    CHECK(message(bad).find("not a number") != std::string::npos);
  }
  std::string m = message("a\nb\x01" + std::string(100, 'c'));
  CHECK(m.find('\n') == std::string::npos);
  CHECK(m.size() < 120);
}

namespace {

const char* kGood = R"({"codes": [
  {"code": "0x921", "context": "lockout", "cause": "tpm_da_lockout", "source": "https://a.example", "inference": false},
  {"code": "0x9a2", "command": "CreatePrimary", "context": "ek", "source": "https://b.example", "inference": true},
  {"code": "394", "command": "NV_ReadPublic", "context": "benign", "source": "http://c.example", "inference": true}
]})";

std::string load_error(const std::string& json) {
  auto r = rc::load_context(json, "x.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find('\n') == std::string::npos);
  return r.error().message;
}

std::string entry(const std::string& fields) { return R"({"codes": [{)" + fields + "}]}"; }

}  // namespace

TEST_CASE("rc: load_context reads the schema", "[rc]") {
  auto r = rc::load_context(kGood);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  const rc::Context& a = (*r)[0];
  CHECK(a.code == 0x921);
  CHECK(a.command.empty());
  CHECK(a.context == "lockout");
  CHECK(a.cause == "tpm_da_lockout");
  CHECK(a.source == "https://a.example");
  CHECK_FALSE(a.inference);
  CHECK((*r)[1].command == "CreatePrimary");
  CHECK((*r)[1].inference);
  CHECK((*r)[2].code == 394);
}

TEST_CASE("rc: load_context errors name the field", "[rc]") {
  const std::string ok = R"("code": "0x1", "context": "c", "source": "https://s", "inference": false)";
  CHECK(load_error("{").starts_with("x.json: not valid JSON: "));
  CHECK(load_error("[]") == "x.json: the top level must be an object with a 'codes' array");
  CHECK(load_error("{}") == "x.json: field 'codes': missing");
  CHECK(load_error(R"({"codes": 1})") == "x.json: field 'codes': must be an array");
  CHECK(load_error(R"({"codes": [], "extra": 1})") == "x.json: unknown field 'extra'");
  CHECK(load_error(R"({"codes": [1]})") == "x.json: codes[0]: must be an object");
  CHECK(load_error(entry(ok + R"(, "cuase": "x")")) == "x.json: codes[0]: unknown field 'cuase'");
  CHECK(load_error(entry(R"("context": "c", "source": "https://s", "inference": false)")) ==
        "x.json: codes[0]: field 'code': missing");
  CHECK(load_error(entry(R"("code": 394, "context": "c", "source": "https://s", "inference": false)")) ==
        "x.json: codes[0]: field 'code': must be a string");
  CHECK(load_error(entry(R"("code": "zz", "context": "c", "source": "https://s", "inference": false)")) ==
        "x.json: codes[0]: field 'code': invalid TPM response code 'zz': not a number");
  CHECK(load_error(entry(R"("code": "0x1", "source": "https://s", "inference": false)")) ==
        "x.json: codes[0]: field 'context': missing");
  CHECK(load_error(entry(R"("code": "0x1", "context": "", "source": "https://s", "inference": false)")) ==
        "x.json: codes[0]: field 'context': must not be empty");
  CHECK(load_error(entry(R"("code": "0x1", "context": "c", "inference": false)")) ==
        "x.json: codes[0]: field 'source': missing");
  CHECK(load_error(entry(R"("code": "0x1", "context": "c", "source": "kb 123", "inference": false)")) ==
        "x.json: codes[0]: field 'source': must be an http(s) URL");
  CHECK(load_error(entry(R"("code": "0x1", "context": "c", "source": "https://s")")) ==
        "x.json: codes[0]: field 'inference': missing");
  CHECK(load_error(entry(R"("code": "0x1", "context": "c", "source": "https://s", "inference": "no")")) ==
        "x.json: codes[0]: field 'inference': must be true or false");
  CHECK(load_error(entry(ok + R"(, "cause": "TPM Lockout")")) ==
        "x.json: codes[0]: field 'cause': must be a snake_case cause id");
  CHECK(load_error(entry(ok + R"(, "command": 5)")) == "x.json: codes[0]: field 'command': must be a string");
  CHECK(load_error(entry(R"("code": "0x1", "context": "a\nb", "source": "https://s", "inference": false)")) ==
        "x.json: codes[0]: field 'context': must be one line");
}

TEST_CASE("rc: find_context matches code, command and the rmt layer", "[rc]") {
  auto r = rc::load_context(R"({"codes": [
    {"code": "0x9a2", "context": "any", "source": "https://s", "inference": false},
    {"code": "0x9a2", "command": "CreatePrimary", "context": "cp", "source": "https://s", "inference": false},
    {"code": "0x921", "context": "lock", "source": "https://s", "inference": false}]})");
  REQUIRE(r.ok());
  auto texts = [&](uint32_t code, std::string_view command) {
    std::vector<std::string> out;
    for (const rc::Context* c : rc::find_context(*r, code, command)) out.push_back(c->context);
    return out;
  };
  CHECK(texts(0x9a2, "") == std::vector<std::string>{"any", "cp"});
  CHECK(texts(0x9a2, "createprimary") == std::vector<std::string>{"cp", "any"});
  CHECK(texts(0x9a2, "NV_ReadPublic") == std::vector<std::string>{"any"});
  CHECK(texts(0x000b0921, "") == std::vector<std::string>{"lock"});
  CHECK(texts(0x00080921, "").empty());  // sys layer: a different code
  CHECK(texts(0x922, "").empty());
}

TEST_CASE("rc: the shipped kb/rc_context.json", "[rc]") {
  std::string_view text = find_embedded("kb/rc_context.json");
  REQUIRE_FALSE(text.empty());
  auto r = rc::load_context(text);
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  CHECK_FALSE(rc::find_context(*r, 0x921).empty());
  CHECK_FALSE(rc::find_context(*r, 0x18b, "NV_ReadPublic").empty());
  CHECK_FALSE(rc::find_context(*r, 0x9a2, "CreatePrimary").empty());
  CHECK_FALSE(rc::find_context(*r, 0x185).empty());
  // Cause ids must be causes of the knowledge base (kb/causes/).
  std::set<std::string> taxonomy;
  for (const auto& c : testing::shared_engine().causes()) taxonomy.insert(c.id);
  REQUIRE(taxonomy.count("tpm_firmware_update_blocked") == 1);
  for (const rc::Context& c : *r) {
    INFO(rc::format_code(c.code) << " " << c.cause);
    CHECK((c.cause.empty() || taxonomy.count(c.cause) == 1));
  }
}

namespace {

struct Run {
  int status;
  std::string out, err;
};

Run run_rc(const cli::Args& args) {
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  int status = cli::cmd_rc(args);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {status, out.str(), err.str()};
}

}  // namespace

TEST_CASE("rc command: text output", "[rc][cli]") {
  auto r = run_rc({"0x9a2", "0x921"});
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  CHECK(r.out.starts_with("0x9a2  TPM_RC_BAD_AUTH  session 1  authorization failure without DA implications\n"));
  CHECK(r.out.find("\n0x921  TPM_RC_LOCKOUT   warning    ") != std::string::npos);
  CHECK(r.out.find("\n       from CreatePrimary: ") != std::string::npos);
  CHECK(r.out.find("[cause: tpm_da_lockout]") != std::string::npos);

  r = run_rc({"0x000b0921", "0x9a2"});  // a layer column appears when any code has a layer
  CHECK(r.out.starts_with("0x000b0921  rmt  TPM_RC_LOCKOUT   warning    "));
  CHECK(r.out.find("\n0x9a2       tpm  TPM_RC_BAD_AUTH  session 1  ") != std::string::npos);
}

TEST_CASE("rc command: json output", "[rc][cli]") {
  auto r = run_rc({"--format", "json", "(0x9a2)", "0x0008000b"});
  CHECK(r.status == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(simdjson::padded_string(r.out)).get(doc) == simdjson::SUCCESS);
  simdjson::dom::array items;
  REQUIRE(doc.get(items) == simdjson::SUCCESS);
  REQUIRE(items.size() == 2);
  simdjson::dom::element a = items.at(0).value();
  CHECK(std::string_view(a["raw"]) == "0x9a2");
  CHECK(uint64_t(a["value"]) == 0x9a2);
  CHECK(uint64_t(a["layer"]) == 0);
  CHECK(std::string_view(a["layer_name"]) == "tpm");
  CHECK(uint64_t(a["format"]) == 1);
  CHECK(std::string_view(a["name"]) == "TPM_RC_BAD_AUTH");
  CHECK(std::string_view(a["kind"]) == "session");
  CHECK(uint64_t(a["index"]) == 1);
  CHECK(std::string_view(a["description"]) == "authorization failure without DA implications");
  CHECK(a["context"].is_string());
  simdjson::dom::element b = items.at(1).value();
  CHECK(std::string_view(b["layer_name"]) == "sys");
  CHECK(std::string_view(b["kind"]) == "tss");
  CHECK(b["context"].is_null());
}

TEST_CASE("rc command: bad input exits 2 with one-line errors", "[rc][cli]") {
  for (const cli::Args& args : {cli::Args{"zzz"}, cli::Args{"0x1ffffffff"}, cli::Args{""}, cli::Args{},
                                cli::Args{"--format", "xml", "1"}, cli::Args{"--nope", "1"}}) {
    auto r = run_rc(args);
    INFO(r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.starts_with("tpmdiag rc: error: "));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(run_rc({"zzz"}).err == "tpmdiag rc: error: invalid TPM response code 'zzz': not a number (nor a TCG name such as TPM_RC_LOCKOUT)\n");

  auto r = run_rc({"0x9a2", "zzz", "0x921"});  // good codes are still printed
  CHECK(r.status == 2);
  CHECK(r.out.starts_with("0x9a2  "));
  CHECK(r.out.find("\n0x921  ") != std::string::npos);
  CHECK(r.err == "tpmdiag rc: error: invalid TPM response code 'zzz': not a number (nor a TCG name such as TPM_RC_LOCKOUT)\n");

  r = run_rc({"--help"});
  CHECK(r.status == 0);
  CHECK(r.out.find("Exit codes") != std::string::npos);
}
