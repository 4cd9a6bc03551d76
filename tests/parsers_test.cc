// Unit tests of line parsing (parsers/format.h, envelope.h, timestamp.h) and
// of the scanner's multi-line joining, one TEST_CASE per log shape, plus a
// fuzz-style test that feeds the detector junk (docs/formats.md).
#include <catch2/catch.hpp>

#include <ctime>
#include <random>
#include <set>

#include "pipeline/run.h"
#include "parsers/envelope.h"
#include "parsers/format.h"
#include "parsers/trailing_any.h"
#include "parsers/inputs.h"
#include "pipeline/scanner.h"
#include "rules/newlines.h"
#include "parsers/timestamp.h"
#include "parsers/source.h"

#include <fcntl.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>

using namespace tpmdiag;

namespace {

const FormatSet& formats() {
  static FormatSet set = [] {
    auto files = collect_data_files("parsers/formats/", {});
    REQUIRE(files);
    auto f = load_formats(*files);
    if (!f) FAIL(f.error().message);
    return std::move(*f);
  }();
  return set;
}

struct Parsed {
  std::string format, kind, host, ts, ts_text, severity, component, message, program, pid;
  bool cont = false;
};

Parsed parse(const std::string& line) {
  static ParseScratch scratch;
  Event ev;
  const Format* f = formats().parse(line, ev, scratch);
  Parsed p;
  p.format = f ? f->name : "";
  p.kind = kind_name(ev.kind);
  p.host = ev.host;
  p.ts = ev.ts_ms ? format_iso8601(*ev.ts_ms) : "none";
  p.ts_text = ev.ts_text;
  p.severity = severity_name(ev.severity);
  p.component = ev.component;
  p.message = ev.message;
  p.program = ev.program;
  p.pid = ev.proc_id;
  p.cont = ev.continuation;
  return p;
}

const char* kCreatePrimary = "Tpm2Cmd: CreatePrimary: (0x9a2) Unknown";

}  // namespace

TEST_CASE("format_iso8601 writes what printf writes, in and out of years 0-9999", "[parsers][timestamp]") {
  auto reference = [](int64_t ms) {  // the same civil date, printed by printf
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000, rem = ms - secs * 1000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400, sod = secs - days * 86400;
    std::time_t t = static_cast<std::time_t>(days * 86400);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(tm.tm_year) + 1900, tm.tm_mon + 1, tm.tm_mday,
                  static_cast<long long>(sod / 3600), static_cast<long long>(sod / 60 % 60),
                  static_cast<long long>(sod % 60), static_cast<long long>(rem));
    return std::string(buf);
  };
  std::mt19937_64 rng(21);
  std::vector<int64_t> cases = {0, -1, 999, 1000, 86399999, 86400000, 951782400000 /* 2000-02-29 */,
                                253402300799999 /* 9999-12-31T23:59:59.999 */, 253402300800000, -62167219200000,
                                -62167219200001};
  for (int i = 0; i < 5000; ++i) cases.push_back(static_cast<int64_t>(rng() % 400000000000000ull) - 100000000000000);
  for (int64_t ms : cases) {
    CAPTURE(ms);
    CHECK(format_iso8601(ms) == reference(ms));
  }
}

TEST_CASE("timestamps: RFC 3164 by hand, epochs by magnitude", "[parsers][timestamp]") {
  size_t n = 0;
  auto t = parse_rfc3164("Nov  6 07:33:25 esx01", &n);
  REQUIRE(t);
  CHECK(t->month == 11);
  CHECK(t->day == 6);
  CHECK(t->second == 25);
  CHECK(n == 15);
  CHECK(parse_rfc3164("Oct 29 19:41:04.936"));
  CHECK(parse_rfc3164("Oct 29 19:41:04.936")->ms == 936);
  CHECK(parse_rfc3164("Dec 1 00:00:00"));
  CHECK_FALSE(parse_rfc3164("Foo 29 19:41:04"));
  CHECK_FALSE(parse_rfc3164("Oct 32 19:41:04"));
  CHECK_FALSE(parse_rfc3164("Oct 29 24:41:04"));
  CHECK_FALSE(parse_rfc3164("Oct 29 19:41"));
  CHECK(format_iso8601(rfc3164_to_ms(*parse_rfc3164("Oct 29 19:41:04"), 2021)) == "2021-10-29T19:41:04.000Z");
  CHECK(epoch_to_ms(1635536489.399) == 1635536489399);
  CHECK(epoch_to_ms(1635536489399.0) == 1635536489399);
  CHECK(epoch_to_ms(1635536489399123.0) == 1635536489399);
  CHECK_FALSE(epoch_to_ms(-1));
  CHECK(parse_iso8601("2026-11-26T07:33:25.123456+00:00") == 1795678405123);
}

TEST_CASE("envelope helpers: SD params with escapes, PRI severity", "[parsers][envelope]") {
  std::string storage;
  CHECK(sd_param("[Originator@6876 sub=\"Libs\" opID=\"x\"]", "sub", storage) == "Libs");
  CHECK(sd_param("[a b=\"sub=\\\"no\\\"\"][Originator@6876 sub=\"A \\\"B\\\" \\] \\\\\"]", "sub", storage) ==
        "A \"B\" ] \\");
  CHECK(sd_param("-", "sub", storage).empty());
  CHECK(sd_param("[x sub=\"unterminated", "sub", storage) == "unterminated");
  CHECK(severity_from_pri("166") == Severity::info);
  CHECK(severity_from_pri("163") == Severity::error);
  CHECK(severity_from_pri("180") == Severity::warning);
  CHECK(severity_from_pri("192") == Severity::none);
  CHECK(severity_from_pri("x") == Severity::none);
}

TEST_CASE("shape: vmkernel 6.5-7.x, dmesg and KB placeholders", "[parsers][shape]") {
  auto p = parse("2021-10-29T19:41:04.936Z cpu16:2097621)WARNING: tpmDriver: Tpm2CheckInterface:618: x");
  CHECK(p.format == "esxi7-vmkernel");
  CHECK(p.kind == "vmkernel");
  CHECK(p.severity == "warning");
  CHECK(p.component == "tpmDriver");
  CHECK(p.ts == "2021-10-29T19:41:04.936Z");
  CHECK(p.message == "tpmDriver: Tpm2CheckInterface:618: x");
  p = parse("cpu0:262380)Loading module tpmdriver ...");  // dmesg without time
  CHECK(p.kind == "vmkernel");
  CHECK(p.ts == "none");
  p = parse("YYYY-DD-MMTHH:MM:SS.007Z cpu24:2097931)WARNING: Elf: 3110: Kernel-based module load of tpmdriver failed");
  CHECK(p.ts == "none");  // a placeholder is never a guess
  CHECK(p.ts_text == "YYYY-DD-MMTHH:MM:SS.007Z");
}

TEST_CASE("shape: vmkernel 8.x, every severity, + marker, early boot", "[parsers][shape]") {
  const char* sev[][2] = {{"Em", "emergency"}, {"Al", "alert"}, {"Cr", "critical"}, {"Er", "error"},
                          {"Wa", "warning"},   {"No", "notice"}, {"In", "info"},     {"Db", "debug"}};
  for (auto& s : sev) {
    auto p = parse(std::string("2025-01-31T14:44:09.687Z ") + s[0] + "(182) vmkernel: cpu1:262371)tpmDriver: x");
    CHECK(p.format == "esxi8-vmkernel");
    CHECK(p.severity == s[1]);
    CHECK(p.component == "tpmDriver");
    CHECK_FALSE(p.cont);
  }
  auto p = parse("2025-01-31T14:44:09.687Z In(182)+ vmkernel: cpu1:262371)more text");
  CHECK(p.cont);
  p = parse("2022-10-19T05:40:26Z In(182) vmkernel: VMB_TPM: 99: Unsupported 'startMethod': 7");
  CHECK(p.component == "VMB_TPM");
  CHECK(p.ts == "2022-10-19T05:40:26.000Z");
  p = parse("2023-08-08T15:08:36.834Z Wa(180) vmkwarning: cpu0:263421 opID=a03fc439)WARNING: Sched: 1353: x");
  CHECK(p.kind == "vmkwarning");
}

TEST_CASE("shape: hostd/vpxa 6.x-8.x, vobd, vpxd", "[parsers][shape]") {
  auto p = parse("2021-10-29T19:41:29.399Z error hostd[2099349] [Originator@6876 sub=Libs opID=a user=root] " +
                 std::string(kCreatePrimary));
  CHECK(p.kind == "hostd");
  CHECK(p.severity == "error");
  CHECK(p.component == "Libs");
  CHECK(p.message == kCreatePrimary);
  CHECK(p.program == "hostd");
  CHECK(p.pid == "2099349");
  p = parse("2025-12-11T16:43:25.003Z Er(163) Hostd[169828]: [Originator@6876 sub=VMkernelStatsProvider(000000a67b5238a0)] x");
  CHECK(p.kind == "hostd");
  CHECK(p.component == "VMkernelStatsProvider(000000a67b5238a0)");
  p = parse("2025-12-11T16:43:23.314Z In(166) Hostd[169797]: --> [context]abc[/context]");
  CHECK(p.cont);
  CHECK(p.message == "[context]abc[/context]");
  p = parse("   --> Result:");
  CHECK(p.cont);
  CHECK(p.program.empty());
  p = parse("2025-12-11T16:43:03.077Z In(166) Vpxa[170012]: [Originator@6876 sub=vpxLro opID=P-1] [VpxLRO] -- BEGIN");
  CHECK(p.kind == "vpxa");
  p = parse("2025-03-01T10:00:00.737Z In(14) vobd[2097521]:  [UserLevelCorrelator] 1012726884193us: [vob.user.x] y");
  CHECK(p.kind == "vobd");
  CHECK(p.component == "UserLevelCorrelator");
  p = parse("2025-01-01T10:00:00.483Z: [UserLevelCorrelator] 1019369886505us: [vob.user.x] y");
  CHECK(p.kind == "vobd");
  p = parse("2020-04-14T12:48:16.306-06:00 info vpxd[10394] [Originator@6876 sub=Default opID=f] [VpxLRO] -- ERROR");
  CHECK(p.kind == "vpxd");
  CHECK(p.ts == "2020-04-14T18:48:16.306Z");
  p = parse("2025-12-06T10:52:53.916+02:00 info vpxd[06388] [VpxLRO] -- BEGIN task-37017");
  CHECK(p.kind == "vpxd");
  CHECK(p.component.empty());
  CHECK(p.ts == "2025-12-06T08:52:53.916Z");
}

TEST_CASE("shape: syslog envelopes (5424, 3164, pre-8 hybrid, rsyslog files)", "[parsers][shape]") {
  auto p = parse("<166>1 2021-10-29T19:41:29.399Z esx01.lab Hostd 2099349 - [Originator@6876 sub=\"Libs\"] " +
                 std::string(kCreatePrimary));
  CHECK(p.format == "syslog-rfc5424");
  CHECK(p.kind == "hostd");
  CHECK(p.host == "esx01.lab");
  CHECK(p.component == "Libs");
  CHECK(p.severity == "info");
  CHECK(p.message == kCreatePrimary);
  p = parse("<182>1 2021-10-29T19:41:04.936Z esx01 vmkernel - - - cpu16:2097621)tpmDriver: x");
  CHECK(p.kind == "vmkernel");
  CHECK(p.component == "tpmDriver");
  p = parse("<163>Nov  6 07:33:25 esx02 Hostd[1]: [Originator@6876 sub=Libs] " + std::string(kCreatePrimary));
  CHECK(p.format == "syslog-rfc3164");
  CHECK(p.host == "esx02");
  CHECK(p.ts == "none");  // no year: text only
  CHECK(p.ts_text == "Nov  6 07:33:25");
  CHECK(p.severity == "error");
  CHECK(parse("<163>Foo  6 07:33:25 esx02 Hostd[1]: x").format != "syslog-rfc3164");
  p = parse("<167>2020-11-23T19:01:51.316Z esxi-dev-0 Rhttpproxy: verbose rhttpproxy[2475368] [Originator@6876 sub=Proxy Req 87383] Resolved");
  CHECK(p.format == "syslog-pri-iso");
  CHECK(p.host == "esxi-dev-0");
  CHECK(p.kind == "syslog");
  CHECK(p.severity == "debug");
  CHECK(p.component == "Proxy Req 87383");
  p = parse("<180>2021-10-29T19:41:04.936Z esx01 vmkwarning: cpu16:2097621)WARNING: tpmDriver: x");
  CHECK(p.kind == "vmkwarning");  // the tag wins over the payload's shape
  p = parse("Nov 26 07:33:25 esx01 vmkernel: cpu16:2097621)tpmDriver: x");
  CHECK(p.format == "rsyslog-traditional-file");
  CHECK(p.host == "esx01");
  CHECK(p.kind == "vmkernel");
  p = parse("2026-11-26T07:33:25.123456+00:00 esx01 Hostd[123]: [Originator@6876 sub=Libs] x");
  CHECK(p.format == "rsyslog-rfc3339-file");
  CHECK(p.ts == "2026-11-26T07:33:25.123Z");
  CHECK(p.kind == "hostd");
}

TEST_CASE("shape: JSON Lines, every key family, recursion once", "[parsers][shape][json]") {
  auto p = parse(R"({"message":"2021-10-29T19:41:29.399Z error hostd[1] [Originator@6876 sub=Libs] x","host":"h1"})");
  CHECK(p.format == "json-lines");
  CHECK(p.kind == "hostd");
  CHECK(p.host == "h1");
  CHECK(p.ts == "2021-10-29T19:41:29.399Z");
  p = parse(R"({"msg":"cpu1:2)tpmDriver: x","hostname":"h2","programname":"vmkernel","timereported":"2021-10-29T19:41:05Z"})");
  CHECK(p.kind == "vmkernel");
  CHECK(p.host == "h2");
  CHECK(p.ts == "2021-10-29T19:41:05.000Z");
  p = parse(R"({"MESSAGE":"x","_HOSTNAME":"h3","__REALTIME_TIMESTAMP":"1635536489342123","PRIORITY":"3"})");
  CHECK(p.host == "h3");
  CHECK(p.ts == "2021-10-29T19:41:29.342Z");
  CHECK(p.severity == "error");
  p = parse(R"({"MESSAGE":"x","HOST":"h4","DATE":"Oct 29 19:41:05","PROGRAM":"Hostd"})");
  CHECK(p.host == "h4");
  CHECK(p.kind == "hostd");
  CHECK(p.ts == "none");
  p = parse(R"({"log":"<166>2021-10-29T19:41:29.399Z esx05 Hostd: error hostd[1] x","host":{"name":"relay"},"date":1635536490.5})");
  CHECK(p.host == "esx05");  // the syslog header's host, not the relay's
  CHECK(p.ts == "2021-10-29T19:41:29.399Z");
  p = parse(R"({"message":"a \"quoted\" \\ line\twith tab","host.name":"h6","@timestamp":1635536489399})");
  CHECK(p.message == "a \"quoted\" \\ line\twith tab");
  CHECK(p.host == "h6");
  CHECK(p.ts_text == "1635536489399");
  p = parse(R"({"time": 1635536489, "message": "x", "host": {"hostname": "h7"}})");
  CHECK(p.host == "h7");
  CHECK(p.ts == "2021-10-29T19:41:29.000Z");
  // Not JSON we understand: stays a bare line.
  CHECK(parse(R"({"no_message": 1})").kind == "unknown");
  CHECK(parse(R"({"message": 12})").kind == "unknown");
  CHECK(parse("{not json").kind == "unknown");
}

TEST_CASE("shape: pasted fragments", "[parsers][shape]") {
  auto p = parse("tpmDriver: Tpm2CheckInterface:615: TPM does not appear to be speaking the 2.0 protocol");
  CHECK(p.kind == "unknown");  // bare: every rule may match it
  CHECK(p.message == "tpmDriver: Tpm2CheckInterface:615: TPM does not appear to be speaking the 2.0 protocol");
  p = parse("[YYYY-MM-DDTHH:MM:SS]Z info hostd[1001392646] [Originator@6876 sub=Hostsvc.Tpm20Provider] Tpm20Provider created.");
  CHECK(p.kind == "hostd");
  CHECK(p.ts == "none");
  p = parse("[root@esx01:~] esxcli hardware trustedboot get");
  CHECK(p.kind == "esxcli");
  CHECK(p.host == "esx01");
  p = parse("#PF Exception 14 in world 2097152:vmkernel IP 0x4200 addr 0x0");
  CHECK(p.kind == "psod");
  p = parse("Alarm 'Host TPM attestation alarm' on esx01.lab changed from Green to Red");
  CHECK(p.kind == "ui");
  CHECK(p.host == "esx01.lab");
  p = parse("TPM 2.0 device detected but a connection cannot be established.");
  CHECK(p.kind == "unknown");
}

TEST_CASE("forced format: only that one is tried", "[parsers]") {
  ParseScratch s;
  Event ev;
  const Format* f = formats().find("syslog-rfc5424");
  REQUIRE(f);
  CHECK(formats().parse("<14>1 - h app - - - cpu1:2)tpmDriver: x", ev, s, f) == f);
  CHECK(ev.host == "h");
  CHECK(formats().parse("2021-10-29T19:41:04.936Z cpu16:2097621)tpmDriver: x", ev, s, f) == nullptr);
  CHECK(ev.kind == SourceKind::unknown);
  CHECK(ev.message == "2021-10-29T19:41:04.936Z cpu16:2097621)tpmDriver: x");
}

namespace {

std::vector<Fact> scan_text(const std::string& text, bool prefilter = true, bool force = false) {
  static auto eng = Engine::load({});
  REQUIRE(eng);
  ScanOptions o;
  o.prefilter = prefilter;
  o.force_prefilter = force;
  Scanner sc((*eng)->matcher(), (*eng)->formats(), o);
  std::vector<Fact> facts;
  InputStats st;
  auto src = memory_source(text);
  REQUIRE(sc.scan(*src, "t", 0, facts, st));
  return facts;
}

std::vector<uint64_t> lines_of(const std::vector<Fact>& facts, const std::string& rule) {
  std::vector<uint64_t> out;
  for (const auto& f : facts)
    if (f.rule->id == rule) out.push_back(f.line);
  return out;
}

}  // namespace

TEST_CASE("scanner: multi-line records are joined once, at their first line", "[parsers][scanner]") {
  for (bool pf : {true, false}) {
    // 7.x: bare --> lines right after the first line.
    auto f = scan_text(
        "2021-10-29T19:41:29.390Z info hostd[1] [Originator@6876 sub=Libs] other\n"
        "2021-10-29T19:41:29.398Z info hostd[1] [Originator@6876 sub=Libs] Dump:\n"
        "   --> Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n"
        "   --> Tpm2Cmd: NV_ReadPublic: (0x18b) Unknown\n"
        "2021-10-29T19:41:29.399Z info hostd[1] [Originator@6876 sub=Libs] next\n",
        pf);
    CHECK(lines_of(f, "hostd.tpm2cmd_failed") == std::vector<uint64_t>{2});
    // 8.x: keyed --> lines, interleaved with another thread; the other
    // thread's continuation is not joined to this record.
    f = scan_text(
        "2025-12-11T16:43:23.300Z In(166) Hostd[7]: [Originator@6876 sub=Libs] Dump:\n"
        "2025-12-11T16:43:23.310Z In(166) Hostd[8]: [Originator@6876 sub=X] other thread\n"
        "2025-12-11T16:43:23.311Z In(166) Hostd[8]: --> Tpm2Cmd: DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT\n"
        "2025-12-11T16:43:23.314Z In(166) Hostd[7]: --> Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n"
        "2025-12-11T16:43:23.320Z In(166) Hostd[7]: [Originator@6876 sub=Libs] next record\n"
        "2025-12-11T16:43:23.321Z In(166) Hostd[7]: --> Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n",
        pf);
    auto got = lines_of(f, "hostd.tpm2cmd_failed");
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<uint64_t>{1, 2, 5});
    for (const auto& fact : f)
      if (fact.line == 1) CHECK(fact.text.find("DictionaryAttackLockReset") == std::string::npos);
  }
  // A continuation whose first line is not in the input stands alone.
  auto f = scan_text("   --> Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n");
  CHECK(lines_of(f, "hostd.tpm2cmd_failed").size() <= 1);
}

TEST_CASE("scanner: two hosts interleaved stay apart", "[parsers][scanner]") {
  auto f = scan_text(
      "<163>1 2021-10-29T19:41:29.399Z esx01 Hostd 1 - - Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n"
      "<163>1 2021-10-29T19:41:29.400Z esx02 Hostd 1 - - Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\n"
      "{\"message\":\"Tpm2Cmd: CreatePrimary: (0x9a2) Unknown\",\"host\":\"esx03\",\"appname\":\"Hostd\"}\n");
  std::vector<std::string> hosts;
  for (const auto& fact : f)
    if (fact.rule->id == "hostd.tpm2cmd_failed") hosts.push_back(fact.host);
  CHECK(hosts == std::vector<std::string>{"esx01", "esx02", "esx03"});
}

TEST_CASE("fuzz: random bytes, truncated and mutated lines never crash", "[parsers][fuzz]") {
  const std::vector<std::string> seeds = {
      "2021-10-29T19:41:04.936Z cpu16:2097621)WARNING: tpmDriver: Tpm2CheckInterface:618: x",
      "2025-01-31T14:44:09.687Z In(182)+ vmkernel: cpu1:262371)tpmDriver: x",
      "2025-12-11T16:43:25.003Z Er(163) Hostd[169828]: [Originator@6876 sub=V(00a)] Tpm2Cmd: CreatePrimary: (0x9a2) Unknown",
      "2021-10-29T19:41:29.399Z error hostd[2099349] [Originator@6876 sub=Libs] Tpm2Cmd: CreatePrimary: (0x9a2) Unknown",
      "<163>1 2025-12-11T16:43:25.003+02:00 esx02 Hostd 169828 - [m a=\"x\\\"y\\]z\"][Originator@6876 sub=\"V\"] x",
      "<163>Nov  6 07:33:25 esx02 Hostd[1]: [Originator@6876 sub=Libs] Tpm2Cmd: NV_ReadPublic: (0x18b) Unknown",
      "<167>2020-11-23T19:01:51.316Z esxi-dev-0 Rhttpproxy: verbose rhttpproxy[2475368] [Originator@6876 sub=P] R",
      R"({"log":"<166>2021-10-29T19:41:29.399Z esx05 Hostd: error hostd[1] x","host":{"name":"r"},"date":1635536490.5})",
      R"({"MESSAGE":"x","_HOSTNAME":"h3","__REALTIME_TIMESTAMP":"1635536489342123","PRIORITY":"3"})",
      "   --> Tpm2Cmd: CreatePrimary: (0x9a2) Unknown",
      "[root@esx01:~] esxcli hardware trustedboot get",
  };
  std::mt19937 rng(12345);
  ParseScratch s;
  Event ev;
  const std::string alphabet = "<>[]{}()\"\\:-+ 0123456789TZ.,=@/\n\r\t\x01\xff\xef\xbb\xbf-->aZ";
  std::string corpus;
  for (int round = 0; round < 3000; ++round) {
    std::string line = seeds[rng() % seeds.size()];
    switch (rng() % 4) {
      case 0: line.resize(rng() % (line.size() + 1)); break;  // truncated
      case 1:                                                  // mutated
        for (int k = 0, m = 1 + static_cast<int>(rng() % 6); k < m && !line.empty(); ++k)
          line[rng() % line.size()] = alphabet[rng() % alphabet.size()];
        break;
      case 2: {  // random bytes
        line.resize(rng() % 200);
        for (auto& c : line) c = static_cast<char>(rng() % 256);
        break;
      }
      default: line.insert(rng() % (line.size() + 1), seeds[rng() % seeds.size()]); break;  // spliced
    }
    formats().parse(line, ev, s);
    CHECK(ev.raw.size() == line.size());
    corpus += line;
    corpus += '\n';
  }
  // The scanner over the whole junk corpus: both paths find the same facts.
  auto keys = [](const std::vector<Fact>& facts) {
    std::multiset<std::string> out;
    for (const auto& f : facts) out.insert(std::to_string(f.line) + " " + f.rule->id + " " + f.text);
    return out;
  };
  auto fast = scan_text(corpus, true, true), slow = scan_text(corpus, false);
  CHECK(!fast.empty());
  CHECK(keys(fast) == keys(slow));
}

TEST_CASE("count_newlines: every length and alignment, long runs", "[parsers][scanner]") {
  std::mt19937 rng(7);
  std::string buf(70000, 'x');
  for (auto& c : buf) c = (rng() % 5 == 0) ? '\n' : static_cast<char>('a' + rng() % 26);
  for (size_t off = 0; off < 40; ++off)
    for (size_t len : {0, 1, 15, 16, 17, 31, 32, 33, 255, 4096, 8160, 8161, 65000}) {
      uint64_t want = static_cast<uint64_t>(std::count(buf.begin() + off, buf.begin() + off + len, '\n'));
      REQUIRE(count_newlines(buf.data() + off, len) == want);
    }
  std::string all(100000, '\n');  // byte counters must not overflow (255 steps per fold)
  REQUIRE(count_newlines(all.data(), all.size()) == all.size());
  // A byte >= 0x80 anywhere sets *high; none leaves it.
  for (size_t len : {1, 31, 63, 64, 65, 200}) {
    std::string text(len, 'a');
    bool high = false;
    count_newlines(text.data(), len, &high);
    CHECK(!high);
    for (size_t at = 0; at < len; ++at) {
      text.assign(len, 'a');
      text[at] = '\xC3';
      high = false;
      count_newlines(text.data(), len, &high);
      CHECK(high);
    }
  }
}

TEST_CASE("split_trailing_any: only exact splits", "[parsers][formats]") {
  auto t = split_trailing_any("(?P<ts>\\S+) (?P<message>(?:(?P<c>[A-Za-z_]\\w*): )?.*)");
  REQUIRE(t);
  CHECK(t->head == "(?P<ts>\\S+) (?P<message>(?:(?P<c>[A-Za-z_]\\w*): )?)");
  CHECK(t->spanning == std::vector<int>{2});
  t = split_trailing_any("x.*");
  REQUIRE(t);
  CHECK(t->head == "x");
  CHECK(t->spanning.empty());
  t = split_trailing_any("((?P<a>x)|y)(?P<m>.*)");
  REQUIRE(t);
  CHECK(t->spanning == std::vector<int>{3});
  for (const char* no : {"(a|b.*)", "a|b.*", "(a)|b.*", "a\\.*", "a\\\\\\.*)", "[.*]", "a.*?", "(?P<m>.*))",
                         "(?P<m>.*)?", "a.*$", "\\Qx\\E.*", "[a.*", "(a.*"})
    CHECK_FALSE(split_trailing_any(no));
  CHECK(split_trailing_any("a\\\\.*"));  // an escaped backslash, then `.*`
}

TEST_CASE("a format's head gives the captures of its whole pattern", "[parsers][formats][differential]") {
  std::mt19937 rng(42);
  const std::string extra[] = {"", " ", "\xC3\xA9", "\xFF", "\t", "-->", "x", ": ", "]", "\n", "\r", "Tpm2Cmd: "};
  size_t with_head = 0, compared = 0;
  for (const Format& f : formats().formats()) {
    const RE2* re = f.compiled();
    if (!re || !f.compiled_head()) continue;
    ++with_head;
    int n = re->NumberOfCapturingGroups() + 1;
    std::vector<std::string> lines;
    for (const auto& other : formats().formats())
      for (const auto& s : other.samples) lines.push_back(s.line);
    for (size_t i = 0, base = lines.size(); i < base * 20; ++i) {  // mutated: cut, or a piece inserted
      std::string l = lines[rng() % base];
      size_t at = l.empty() ? 0 : rng() % l.size();
      if (rng() % 3 == 0) l.resize(at);
      else l.insert(at, extra[rng() % std::size(extra)]);
      lines.push_back(l);
    }
    for (const auto& l : lines) {
      std::vector<re2::StringPiece> fast(static_cast<size_t>(n)), ref(static_cast<size_t>(n));
      bool a = f.match(l, fast.data(), n), b = f.match(l, ref.data(), n, true);
      CAPTURE(f.name, l);
      REQUIRE(a == b);
      if (!a) continue;
      ++compared;
      for (int g = 0; g < n; ++g) {
        CAPTURE(g);
        CHECK(fast[static_cast<size_t>(g)].data() == ref[static_cast<size_t>(g)].data());
        CHECK(fast[static_cast<size_t>(g)].size() == ref[static_cast<size_t>(g)].size());
      }
    }
  }
  CHECK(with_head >= 10);  // most built-in formats end in (?P<message>.*)
  CHECK(compared > 500);
}

TEST_CASE("a format's head is not used when what follows it is not `.*` text", "[parsers][formats]") {
  Format f;  // the head takes the empty `a` (lazy); the whole pattern must put the newline in it
  f.name = "lazy";
  f.pattern = "(?P<a>[\\s\\S]?\?)(?P<m>.*)";
  REQUIRE(f.compiled());
  REQUIRE(f.compiled_head());
  re2::StringPiece fast[3], ref[3];
  std::string line = "\nabc";
  REQUIRE(f.match(line, fast, 3));
  REQUIRE(f.match(line, ref, 3, true));
  CHECK(ref[1].size() == 1);
  for (int g = 0; g < 3; ++g) CHECK(std::string(fast[g].data(), fast[g].size()) == std::string(ref[g].data(), ref[g].size()));
}

// Three ways to find a line's format must agree: the formats' fast heads
// asked in order (Format::quick, the default), one RE2::Set naming the
// formats that match (detect()), and each format asked in turn. Lines: the
// formats' samples, cut and with pieces inserted (as the head test above).
TEST_CASE("formats found by fast heads, by one RE2::Set, or asked in turn parse lines alike",
          "[parsers][formats][differential]") {
  auto files = collect_data_files("parsers/formats/", {});
  REQUIRE(files);
  auto quick = load_formats(*files), set_first = load_formats(*files), each = load_formats(*files);
  REQUIRE(quick);
  REQUIRE(set_first);
  REQUIRE(each);
  quick->detect_after(0);
  set_first->detect_after(0);
  set_first->quick_first(false);
  each->detect_after(UINT64_MAX);
  each->quick_first(false);
  std::mt19937 rng(43);
  const std::string extra[] = {"", " ", "\xC3\xA9", "\xFF", "\t", "-->", "x", ": ", "]", "<13>", "{", "Tpm2Cmd: "};
  std::vector<std::string> lines;
  for (const auto& f : each->formats())
    for (const auto& s : f.samples) lines.push_back(s.line);
  for (size_t i = 0, base = lines.size(); i < base * 30; ++i) {
    std::string l = lines[rng() % base];
    size_t at = l.empty() ? 0 : rng() % l.size();
    if (rng() % 3 == 0) l.resize(at);
    else l.insert(at, extra[rng() % std::size(extra)]);
    lines.push_back(l);
  }
  ParseScratch s1, s2, s3;
  size_t parsed = 0;
  auto same = [](const Format* fa, const Event& a, const Format* fb, const Event& b) {
    REQUIRE((fa ? fa->name : "-") == (fb ? fb->name : "-"));
    CHECK(kind_name(a.kind) == kind_name(b.kind));
    CHECK(a.host == b.host);
    CHECK(a.ts_text == b.ts_text);
    CHECK(a.ts_ms == b.ts_ms);
    CHECK(a.severity == b.severity);
    CHECK(a.component == b.component);
    CHECK(a.message == b.message);
    CHECK(a.program == b.program);
    CHECK(a.proc_id == b.proc_id);
    CHECK(a.continuation == b.continuation);
  };
  for (const auto& l : lines) {
    Event a, b, c;
    const Format* fa = quick->parse(l, a, s1);
    const Format* fb = set_first->parse(l, b, s2);
    const Format* fc = each->parse(l, c, s3);
    CAPTURE(l);
    same(fa, a, fc, c);
    same(fb, b, fc, c);
    parsed += fa != nullptr;
  }
  CHECK(parsed > lines.size() / 2);
}
