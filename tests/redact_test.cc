// Redaction (issue 17, pipeline/redact.h): identifiers planted in every log
// shape tpmdiag reads are gone from every format, and the diagnosis of every
// scenario is the same with and without --redact.
//
// The planted corpus: per shape, 120 TPM lines (each a fact of its own) that
// carry one identifier of every kind (short host name, FQDN, IPv4, IPv6, MAC,
// serial number, UUID, user, vCenter), plus the seed's lines; syslog and JSON
// shapes name another host in each header; bundles (.tgz and extracted
// folders) carry the host in their name and in commands/. Without redaction every planted value is in the
// JSON report (so the test is not passed by values that never show); with it,
// none is in any format.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include "cli/render.h"
#include "pipeline/redact.h"
#include "support.h"

using namespace tpmdiag;
namespace fs = std::filesystem;

namespace {

constexpr int kPlanted = 120;

std::string fmt(const char* f, int a, int b = 0, int c = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

struct Ids {
  std::vector<std::string> all;  // every planted value
  std::string message(int i) {   // one of each kind, placed as logs place them
    std::vector<std::string> v = {fmt("esxh%04d", i),
                                  fmt("h%04dx.prod.acme-test.net", i),
                                  fmt("172.20.%d.%d", i / 250, i % 250 + 1),
                                  fmt("fd00:%x::%x", i + 1, i + 7),
                                  fmt("00:50:56:%02x:%02x:%02x", i & 0xff, (i >> 8) & 0xff, 0x11),
                                  fmt("SN%06dQX", i),
                                  fmt("4c4c4544-%04x-3410-8051-b4c04f4a%04x", i, i + 1),
                                  fmt("jdoe%04d", i),
                                  fmt("vc%04d.mgmt.acme-test.net", i)};
    all.insert(all.end(), v.begin(), v.end());
    return "host=" + v[0] + " node " + v[1] + " from " + v[2] + " via " + v[3] + " nic " + v[4] + " serial=" + v[5] +
           " uuid " + v[6] + " user=" + v[7] + " managed by vCenter " + v[8];
  }
  std::string header_host(int i) {
    all.push_back(fmt("rack%04dh", i));
    return all.back();
  }
};

// One line of a shape: the vmkernel message `msg` at second `s`, from `host`.
using Shape = std::function<std::string(const std::string& msg, int s, const std::string& host)>;

std::string ts(int s) { return fmt("2021-10-29T19:%02d:%02d.000Z", s / 60 % 60, s % 60); }
std::string bsd(int s) { return fmt("Oct 29 19:%02d:%02d", s / 60 % 60, s % 60); }
std::string js(std::string s) {  // a JSON string's content
  std::string o;
  for (char c : s) o += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return o;
}

const std::vector<std::pair<std::string, Shape>>& shapes() {
  static const std::vector<std::pair<std::string, Shape>> s = {
      {"esxi6-vmkernel.log", [](auto& m, int t, auto&) { return fmt("2019-07-10T12:%02d:%02d.000Z", t / 60 % 60, t % 60) + " cpu0:65536)" + m; }},
      {"esxi7-vmkernel.log", [](auto& m, int t, auto&) { return ts(t) + " cpu16:2097621)" + m; }},
      {"esxi8-vmkernel.log", [](auto& m, int t, auto&) { return ts(t) + " In(182) vmkernel: cpu16:2097621)" + m; }},
      {"rfc5424.log", [](auto& m, int t, auto& h) { return "<182>1 " + ts(t) + " " + h + " vmkernel - - - cpu16:2097621)" + m; }},
      {"rfc3164.log", [](auto& m, int t, auto& h) { return "<182>" + bsd(t) + " " + h + " vmkernel: cpu16:2097621)" + m; }},
      {"hybrid.log", [](auto& m, int t, auto& h) { return "<182>" + ts(t) + " " + h + " vmkernel: cpu16:2097621)" + m; }},
      {"rsyslog-traditional.log", [](auto& m, int t, auto& h) { return bsd(t) + " " + h + " vmkernel: cpu16:2097621)" + m; }},
      {"rsyslog-rfc3339.log", [](auto& m, int t, auto& h) { return fmt("2021-10-29T19:%02d:%02d.000000+00:00", t / 60 % 60, t % 60) + " " + h + " vmkernel: cpu16:2097621)" + m; }},
      {"rsyslog.jsonl", [](auto& m, int t, auto& h) { return "{\"timereported\":\"" + ts(t) + "\",\"hostname\":\"" + h + "\",\"programname\":\"vmkernel\",\"msg\":\"cpu16:2097621)" + js(m) + "\"}"; }},
      {"ecs.jsonl", [](auto& m, int t, auto& h) { return "{\"@timestamp\":\"" + ts(t) + "\",\"host\":{\"name\":\"" + h + "\"},\"message\":\"" + ts(t) + " cpu16:2097621)" + js(m) + "\"}"; }},
      {"journald.jsonl", [](auto& m, int t, auto& h) { return "{\"__REALTIME_TIMESTAMP\":\"" + std::to_string(1635536400000000LL + t * 1000000LL) + "\",\"_HOSTNAME\":\"" + h + "\",\"SYSLOG_IDENTIFIER\":\"vmkernel\",\"PRIORITY\":\"6\",\"MESSAGE\":\"cpu16:2097621)" + js(m) + "\"}"; }},
      {"vector.jsonl", [](auto& m, int t, auto& h) { return "{\"message\":\"" + ts(t) + " cpu16:2097621)" + js(m) + "\",\"host\":\"" + h + "\",\"timestamp\":\"" + ts(t) + "\"}"; }},
      {"syslog-ng.jsonl", [](auto& m, int t, auto& h) { return "{\"DATE\":\"" + bsd(t) + "\",\"HOST\":\"" + h + "\",\"PROGRAM\":\"vmkernel\",\"MESSAGE\":\"" + ts(t) + " cpu16:2097621)" + js(m) + "\"}"; }},
      {"fluentbit.jsonl", [](auto& m, int t, auto& h) { return "{\"date\":" + std::to_string(1635536400 + t) + ".0,\"log\":\"<182>" + ts(t) + " " + h + " vmkernel: cpu16:2097621)" + js(m) + "\"}"; }},
  };
  return s;
}

// The seed's vmkernel lines (the TPM's vendor, a boot) and the planted ones.
// Values are numbered from `base`: each input has its own, so no value is
// redacted only because an earlier input made it known.
std::string planted_log(const Shape& shape, Ids& ids, bool with_hosts, int base) {
  std::string out;
  const std::string first = with_hosts ? ids.header_host(base + 999) : "";
  for (const char* m : {"Loading module tpmdriver ...", "tpmDriver: Tpm2LogVendor:1828: Vendor ID: IFX"})
    out += shape(m, 0, first) + "\n";
  for (int i = 0; i < kPlanted; ++i) {
    std::string host = with_hosts ? ids.header_host(base + i) : "";
    out += shape("WARNING: Elf: 3110: Kernel based module load of tpmdriver failed: " + ids.message(base + i), i + 1, host) +
           "\n";
  }
  return out;
}

// hostd lines (6.x/7.x and 8.x) no rule explains, each holding identifiers.
std::string planted_hostd(bool esxi8, Ids& ids, int base) {
  std::string out;
  for (int i = 0; i < kPlanted; ++i) {
    std::string head = esxi8 ? ts(i) + " Er(163) Hostd[2099349]: " : ts(i) + " error hostd[2099349] ";
    out += head + "[Originator@6876 sub=Hostsvc.Tpm20Provider] TPM quote failed: " + ids.message(base + i) + "\n";
  }
  return out;
}

// A vm-support bundle's files: the host in its name and in commands/.
std::vector<testing::Member> bundle(const std::string& top, const std::string& host, Ids& ids, int base) {
  return {
      {top + "/var/run/log/vmkernel.log", planted_log(shapes()[1].second, ids, false, base)},
      {top + "/commands/uname_-a.txt", "VMkernel " + host + " 7.0.3 #1 SMP Release build-19193900 Jan 20 2022 x86_64 x86_64 x86_64 ESXi\n"},
      {top + "/commands/esxcli_system_hostname_get.txt", "   Domain Name: prod.acme-test.net\n   Fully Qualified Domain Name: " + host + ".prod.acme-test.net\n   Host Name: " + host + "\n"},
  };
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Every format of diagnose and explain, one after the other.
std::string all_formats(const Report& r, const Engine& engine, bool redacted) {
  std::ostringstream out;
  cli::ReportMeta meta{engine.knowledge(), "2024-01-01T00:00:00Z", redacted, {}};
  cli::render_text(r, out, {false, 100, true});
  cli::render_timeline(r, out, {false, 100, true});
  cli::render_explain(r, out, {false, 100, true});
  cli::render_explain_json(r, out);
  cli::render_json(r, out, true, redacted);
  cli::render_html(r, out, meta);
  cli::render_md(r, out, meta);
  return out.str();
}

// What redaction must not change: the verdicts and the findings (cause,
// confidence, status, boots, evidence count), hosts compared through the map.
// Hosts are listed by name, and findings of equal confidence by host: tokens
// sort otherwise than names, so each part is compared as a sorted list.
std::string sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string diagnosis(const Report& r, const std::map<std::string, std::string>& token_of) {
  auto host = [&](const std::string& h) {
    auto it = token_of.find(h);
    return it == token_of.end() ? h : it->second;
  };
  std::ostringstream s, hosts;
  s << name(r.verdict) << " incomplete=" << r.incomplete();
  if (!r.findings.empty()) s << " top " << r.findings.front().cause->id << " " << r.findings.front().confidence;
  s << "\n";
  for (const auto& h : r.hosts) {
    hosts << "host " << host(h.host) << " " << name(h.verdict) << " boots " << h.boots.size() << ":";
    for (const auto& b : h.boots) hosts << " " << name(b.verdict) << "/" << b.facts.size();
    hosts << "\n";
  }
  for (const auto& f : r.findings) {
    char conf[16];
    std::snprintf(conf, sizeof conf, "%.4f", f.confidence);
    s << f.cause->id << " " << conf << " " << host(f.host) << " boot " << f.boot << " " << name(f.status) << " "
      << f.resolved_in << " evidence " << f.evidence.size() << " proof " << f.resolved_by.size() << "\n";
  }
  return sorted_lines(hosts.str()) + s.str().substr(0, s.str().find('\n') + 1) +
         sorted_lines(s.str().substr(s.str().find('\n') + 1));
}

struct Runs {
  Report plain, red;
  std::map<std::string, std::string> token_of;  // value -> token
  std::map<std::string, size_t> counts;
};

Runs run_both(const std::vector<std::string>& paths, size_t keep_same = 4) {
  const Engine& engine = testing::shared_engine();
  RunOptions opts;
  opts.scan.keep_same = keep_same;
  Runs out{run_inputs(engine, paths, opts), {}, {}, {}};
  auto spec = RedactSpec::builtin();
  REQUIRE(spec);
  opts.redactor = std::make_shared<Redactor>(**spec);
  out.red = run_inputs(engine, paths, opts);
  for (const auto& [token, value] : opts.redactor->map()) out.token_of[value] = token;
  out.counts = opts.redactor->counts();
  return out;
}

}  // namespace

TEST_CASE("redaction: the built-in patterns load and pass their samples", "[redact]") {
  auto spec = RedactSpec::builtin();
  INFO((spec ? "" : spec.error().message));
  REQUIRE(spec);
  CHECK((*spec)->patterns().size() >= 20);
}

TEST_CASE("redaction: a pattern file whose sample fails is refused, naming pattern and sample", "[redact]") {
  auto bad = RedactSpec::parse(R"json({"patterns": [{"id": "ip", "kind": "ip", "pattern": "from (\\S+)",
      "samples": [{"line": "from 10.0.0.1", "redacted": "from 10.0.0.1"}]}]})json", "test.json");
  REQUIRE(!bad);
  CHECK(bad.error().message.find("pattern 'ip' sample 1") != std::string::npos);
  auto two = RedactSpec::parse(R"json({"patterns": [{"id": "x", "kind": "ip", "pattern": "(a)(b)",
      "samples": [{"line": "ab", "redacted": "ip-1"}]}]})json", "test.json");
  REQUIRE(!two);
  CHECK(two.error().message.find("exactly one capture group") != std::string::npos);
}

TEST_CASE("redaction: tokens are stable per value, distinct per value, and known values are found again", "[redact]") {
  auto spec = RedactSpec::builtin();
  REQUIRE(spec);
  Redactor r(**spec);
  CHECK(r.line("<182>1 2021-10-29T19:41:04.933Z esx01 vmkernel - - - host is esx01") ==
        "<182>1 2021-10-29T19:41:04.933Z host-1 vmkernel - - - host is host-1");
  CHECK(r.line("<182>1 2021-10-29T19:41:05.000Z esx02 vmkernel - - - x") ==
        "<182>1 2021-10-29T19:41:05.000Z host-2 vmkernel - - - x");
  CHECK(r.line("esx01.x1 and esx01 again, 10.1.1.1") == "host-1.x1 and host-1 again, ip-1");
  CHECK(r.again("seen before: esx02") == "seen before: host-2");
  CHECK(r.name("/b/esx-node7.acme-test.net-2024-01-01--10.00-1.tgz!x/vmkernel.log", "node7.acme-test.net") ==
        "/b/esx-host-3-2024-01-01--10.00-1.tgz!x/vmkernel.log");
  auto map = r.map();
  REQUIRE(map.size() == 4);
  CHECK(map[0] == std::make_pair(std::string("host-1"), std::string("esx01")));
  CHECK(map[3] == std::make_pair(std::string("ip-1"), std::string("10.1.1.1")));
}

TEST_CASE("redaction: planted identifiers of every kind, in every log shape, are in no format", "[redact]") {
  const fs::path dir = fs::temp_directory_path() / ("tpmdiag-redact-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  Ids ids;
  std::vector<std::string> paths;
  int base = 0;
  for (const auto& [file, shape] : shapes()) {
    bool hosts = file.find("esxi") == std::string::npos;  // native ESXi lines name no host
    write(dir / file, planted_log(shape, ids, hosts, base += 1000));
    paths.push_back((dir / file).string());
  }
  write(dir / "esxi7-hostd.log", planted_hostd(false, ids, base += 1000));
  write(dir / "esxi8-hostd.log", planted_hostd(true, ids, base += 1000));
  paths.push_back((dir / "esxi7-hostd.log").string());
  paths.push_back((dir / "esxi8-hostd.log").string());
  for (int b = 0; b < 4; ++b) {  // .tgz bundles, and extracted ones (folders)
    std::string host = ids.header_host(base + 700 + b), top = "esx-" + host + ".prod.acme-test.net-2024-01-01--10.00-12" + std::to_string(b);
    ids.all.push_back(host + ".prod.acme-test.net");
    auto members = bundle(top, host, ids, base += 1000);
    if (b % 2 == 0) {
      write(dir / (top + ".tgz"), testing::make_archive(members));
      paths.push_back((dir / (top + ".tgz")).string());
    } else {
      for (const auto& m : members) write(dir / m.path, m.data);
      paths.push_back((dir / top).string());
    }
  }

  Runs runs = run_both(paths, 100000);  // every planted line a fact of its own, so each shows unredacted
  const Engine& engine = testing::shared_engine();
  std::string plain = all_formats(runs.plain, engine, false), red = all_formats(runs.red, engine, true);

  // Shown: each value is a word of the plain output (a find per value would
  // take minutes on megabytes). Left: every planted value of a kind holds the
  // same fragment, and no token or report text does.
  std::set<std::string> words, missing, left;
  for (size_t i = 0; i < plain.size();) {
    size_t e = plain.find_first_of(" \t\n\"'=,<>()[]{}|`;/!\\", i);
    if (e == std::string::npos) e = plain.size();
    std::string w = plain.substr(i, e - i);
    while (!w.empty() && (w.back() == '.' || w.back() == ':')) w.pop_back();
    words.insert(w);
    i = e + 1;
  }
  for (const auto& id : ids.all)
    if (!words.count(id)) missing.insert(id);
  for (const char* fragment : {"esxh", "acme-test", "172.20.", "fd00:", "00:50:56:", "QX", "4c4c4544-", "jdoe", "rack"})
    for (size_t at = 0; (at = red.find(fragment, at)) != std::string::npos; ++at) {
      std::string around = red.substr(at, 24);
      if (std::string_view(fragment) == "rack" && (at + 4 >= red.size() || !std::isdigit(static_cast<unsigned char>(red[at + 4]))))
        continue;  // "track"
      if (std::string_view(fragment) == "QX" && (at < 2 || !std::isdigit(static_cast<unsigned char>(red[at - 1]))))
        continue;
      left.insert(around);
    }
  size_t shown_fragments = 0;  // the fragment search finds them where they are
  for (size_t at = 0; (at = plain.find("acme-test", at)) != std::string::npos; ++at) ++shown_fragments;
  CHECK(shown_fragments > 1000);
  INFO("planted values that do not show even without --redact: " << missing.size() << ", e.g. "
                                                                     << (missing.empty() ? "" : *missing.begin()));
  CHECK(missing.empty());
  INFO("planted values left after --redact: " << left.size() << ", e.g. " << (left.empty() ? "" : *left.begin()));
  CHECK(left.empty());
  std::cout << "redaction: " << ids.all.size() << " planted values in " << shapes().size() + 6
            << " inputs; tokens given:";
  for (const auto& [kind, n] : runs.counts) std::cout << " " << kind << " " << n;
  std::cout << std::endl;
  for (const char* kind : {"host", "ip", "mac", "serial", "uuid", "user", "vc"}) {
    INFO("kind " << kind);
    CHECK(runs.counts[kind] >= 100);
  }
  CHECK(ids.all.size() >= static_cast<size_t>(kPlanted * 9 * shapes().size()));
  CHECK(diagnosis(runs.red, runs.token_of) == diagnosis(runs.plain, runs.token_of));
  fs::remove_all(dir);
}

TEST_CASE("redaction: every scenario and log shape sample is diagnosed the same with and without it", "[redact]") {
  std::vector<fs::path> dirs;
  for (const char* where : {"samples/scenarios", "samples/formats"})
    for (const auto& e : fs::directory_iterator(fs::path(TPMDIAG_SOURCE_DIR) / where))
      if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int same = 0;
  for (const auto& d : dirs) {
    std::vector<std::string> paths;
    if (d.parent_path().filename() == "formats") {  // each file alone: .jsonl in a folder are not logs by name
      for (const auto& f : fs::directory_iterator(d)) paths.push_back(f.path().string());
      std::sort(paths.begin(), paths.end());
    } else {
      paths.push_back(d.string());
    }
    Runs runs = run_both(paths);
    INFO(d.string());
    CHECK(diagnosis(runs.red, runs.token_of) == diagnosis(runs.plain, runs.token_of));
    same += diagnosis(runs.red, runs.token_of) == diagnosis(runs.plain, runs.token_of);
  }
  std::cout << "redaction: " << same << " of " << dirs.size() << " sample folders diagnosed the same" << std::endl;
  CHECK(dirs.size() >= 80);
}
