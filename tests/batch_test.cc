// Batch scans of vm-support bundles: archives read as streams, rotated .gz
// members in timeline order, bundle metadata, truncated archives. Bundles are
// built here, at test time, with libarchive's write API.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pipeline/run.h"
#include "parsers/archive.h"
#include "kb/bundle_info.h"
#include "parsers/inputs.h"
#include "store/batch.h"
#include "support.h"

using namespace tpmdiag;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& rel) {
  std::ifstream in(std::string(TPMDIAG_SOURCE_DIR) + "/" + rel, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using testing::gz;
using testing::make_archive;
using testing::Member;

std::vector<Member> commands(const std::string& top, const std::string& host) {
  return {
      {top + "/commands/vmware_-vl.txt", "VMware ESXi 7.0.3 build-19193900\nVMware ESXi 7.0 Update 3\n"},
      {top + "/commands/uname_-a.txt",
       "VMkernel " + host + ".lab.local 7.0.3 #1 SMP Release build-19193900 Nov 22 2021 x86_64 x86_64 x86_64 ESXi\n"},
      {top + "/commands/smbiosDump.txt",
       "  BIOS Info: #0\n    Vendor: \"American Megatrends Inc.\"\n    Version: \"3.4\"\n    Date: \"11/21/2020\"\n"
       "  System Info: #1\n    Manufacturer: \"Supermicro\"\n    Product: \"SYS-1029P-WTR\"\n"
       "  Board Info: #2\n    Manufacturer: \"Supermicro\"\n    Product: \"X11DPi-NT\"\n    Version: \"1.10\"\n"},
      {top + "/commands/localcli_hardware-trustedboot-get.txt", "   Drtm Enabled: false\n   Tpm Present: true\n"},
      {top + "/commands/localcli_software-vib-list.txt",
       "Name       Version                  Vendor  Acceptance Level  Install Date\n"
       "---------  -----------------------  ------  ----------------  ------------\n"
       "esx-base   7.0.3-0.20.19193900      VMware  VMwareCertified   2023-05-01\n"
       "tpm        7.0.3-0.20.19193900      VMware  VMwareCertified   2023-05-01\n"},
  };
}

// A realistic bundle: the failing lines in the OLDEST rotations, benign noise
// in the newer ones, and (resolved) the fixed lines in the current hostd.log.
// Members are written newest first, as a directory listing may give them, so
// archive order is not timeline order.
std::string bundle(const std::string& top, const std::string& host, bool fixed) {
  std::string log = top + "/var/run/log/";
  std::vector<Member> m;
  m.push_back({log + "hostd.log", fixed ? slurp("samples/seed-fixed/hostd.log")
                                        : "info hostd[2099457] [Originator@6876 sub=Hostsvc] Plugin initialized\n"});
  m.push_back({log + "hostd.0.gz", gz("2021-10-29T20:00:00.000Z info hostd[2099349] [Originator@6876 sub=Vimsvc] "
                                      "Task completed\n")});
  m.push_back({log + "hostd.1.gz", gz(slurp("samples/seed-failing/hostd.log"))});
  m.push_back({log + "vmkernel.log", "2021-10-29T20:00:01.000Z cpu2:2097621)NetPort: 1580: disabled port 0x2000004\n"});
  m.push_back({log + "vmkernel.0.gz", gz(slurp("samples/seed-failing/vmkernel.log"))});
  m.push_back({top + "/var/core/vmkernel-zdump.1", std::string("\x7f" "ELF\0\0binary", 12)});
  m.push_back({top + "/etc/vmware/esx.conf", "/adv/Misc/HostName = \"" + host + "\"\n"});
  m.push_back({top + "/var/run/log/link.log", "../../../etc/passwd", true});
  for (auto& c : commands(top, host)) m.push_back(std::move(c));
  return make_archive(m);
}

const Engine& engine() {
  static auto e = Engine::load({});
  REQUIRE(e);
  return **e;
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/tpmdiag-batch-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& data) const {
    auto p = path / name;
    std::ofstream(p, std::ios::binary) << data;
    return p.string();
  }
};

batch::JobResult scan_file(const std::string& path) {
  std::vector<InputError> errors;
  auto jobs = batch::plan_jobs({path}, errors);
  REQUIRE(errors.empty());
  REQUIRE(jobs.size() == 1);
  return batch::run_job(engine(), RunOptions{}, jobs[0]);
}

}  // namespace

TEST_CASE("a bundle whose failure sits in the oldest rotation and fix in hostd.log is resolved", "[batch]") {
  TempDir d;
  auto top = "esx-host1-2024-01-01--10.00-123";
  auto path = d.write(std::string(top) + ".tgz", bundle(top, "host1", true));
  auto r = scan_file(path);
  for (const auto& e : r.errors) UNSCOPED_INFO(e);
  CHECK(r.errors.empty());
  CHECK(r.report.verdict == Verdict::resolved);
  REQUIRE(r.report.hosts.size() == 1);
  CHECK(r.report.hosts[0].host == "host1");
  REQUIRE(!r.report.findings.empty());
  CHECK(r.report.findings[0].cause->id == "tpm_firmware_outdated");
  CHECK(r.report.findings[0].status == FindingStatus::resolved);
  // Evidence names the archive and the member.
  CHECK(r.report.findings[0].evidence[0]->input.find(".tgz!esx-host1-2024-01-01--10.00-123/var/run/log/") !=
        std::string::npos);
  CHECK(r.bundle["esxi_version"] == "7.0.3");
  CHECK(r.bundle["esxi_build"] == "19193900");
  CHECK(r.bundle["bios_vendor"] == "American Megatrends Inc.");
  CHECK(r.bundle["bios_version"] == "3.4");
  CHECK(r.bundle["board_vendor"] == "Supermicro");
  CHECK(r.bundle["board_product"] == "X11DPi-NT");
  CHECK(r.bundle["system_product"] == "SYS-1029P-WTR");
  CHECK(r.bundle["tpm_present"] == "true");
  CHECK(r.bundle["tpmdriver_vib"] == "true");
  CHECK(r.bundle["tpm_vendor"] == "IFX");  // from the vmkernel line, via the rule's fact
  CHECK(r.bundle["hostname"] == "host1.lab.local");
  auto rec = batch::to_record(r);
  CHECK(rec.status == "ok");
  CHECK(rec.content_hash.rfind("crc32:", 0) == 0);
  REQUIRE(rec.hosts.size() == 1);
  CHECK(rec.hosts[0].bundle.at("esxi_build") == "19193900");
}

TEST_CASE("the same bundle without the fix is a problem, host from the bundle", "[batch]") {
  TempDir d;
  auto top = "esx-host2-2024-01-01--10.00-7";
  auto r = scan_file(d.write(std::string(top) + ".tgz", bundle(top, "host2", false)));
  CHECK(r.report.verdict == Verdict::problem);
  REQUIRE(r.report.hosts.size() == 1);
  CHECK(r.report.hosts[0].host == "host2");
  CHECK(r.bundle_host == "host2");
}

TEST_CASE("without a host in any name, the host comes from commands/ output", "[batch]") {
  TempDir d;
  auto r = scan_file(d.write("upload.tgz", bundle("vm-support-bundle", "esx-lab-9", false)));
  CHECK(r.report.verdict == Verdict::problem);
  CHECK(r.bundle_host == "esx-lab-9.lab.local");
  REQUIRE(r.report.hosts.size() == 1);
  CHECK(r.report.hosts[0].host == "esx-lab-9.lab.local");
}

TEST_CASE("walk_source: what is scanned, with which name and kind", "[batch]") {
  auto top = std::string("esx-h-2024-01-01--10.00-1");
  std::vector<std::pair<std::string, SourceKind>> seen;
  std::vector<std::string> errors;
  std::string text;
  walk_source("up.tgz", memory_source(bundle(top, "h", true)), SourceLimits{},
              [&](const StreamInfo& s, ByteSource& src) {
                seen.emplace_back(s.name, s.kind_hint);
                CHECK(s.host == "h");
                char buf[4096];
                for (;;) {
                  auto n = src.read(buf, sizeof buf);
                  REQUIRE(n);
                  if (*n == 0) break;
                  if (s.name.ends_with("hostd.1.gz")) text.append(buf, *n);
                }
              },
              [&](const InputError& e) { errors.push_back(e.message); });
  CHECK(errors.empty());
  auto has = [&](const std::string& suffix) {
    for (const auto& [n, k] : seen)
      if (n == "up.tgz!" + top + suffix) return true;
    return false;
  };
  CHECK(has("/var/run/log/hostd.log"));
  CHECK(has("/var/run/log/hostd.1.gz"));
  CHECK(has("/commands/smbiosDump.txt"));
  CHECK_FALSE(has("/var/core/vmkernel-zdump.1"));  // core dump
  CHECK_FALSE(has("/etc/vmware/esx.conf"));        // not a log
  CHECK_FALSE(has("/var/run/log/link.log"));       // symlink: a name only
  for (const auto& [n, k] : seen)
    CHECK((k == SourceKind::esxcli) == (n.find("/commands/") != std::string::npos));
  // The .gz member was inflated.
  CHECK(text == slurp("samples/seed-failing/hostd.log"));
}

TEST_CASE("walk_source reads zip archives and nested archives", "[batch]") {
  std::string inner = bundle("esx-h9-2024-01-01--10.00-1", "h9", false);
  std::string zip = make_archive({{"support/esx-h9-2024-01-01--10.00-1.tgz", inner},
                                  {"support/notes.pdf", "%PDF-1.4"},
                                  {"../../evil/vmkernel.log", "2021-10-29T19:41:29.399Z cpu1:1)hello\n"}},
                                 "zip");
  std::vector<std::string> names;
  walk_source("vc.zip", memory_source(zip), SourceLimits{},
              [&](const StreamInfo& s, ByteSource& src) {
                names.push_back(s.name);
                char buf[4096];
                while (true) {
                  auto n = src.read(buf, sizeof buf);
                  if (!n || *n == 0) break;
                }
              },
              [&](const InputError& e) { FAIL(e.message); });
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  CHECK(has("vc.zip!support/esx-h9-2024-01-01--10.00-1.tgz!esx-h9-2024-01-01--10.00-1/var/run/log/hostd.1.gz"));
  CHECK(has("vc.zip!../../evil/vmkernel.log"));  // only a name: nothing is written anywhere
  CHECK_FALSE(has("vc.zip!support/notes.pdf"));
}

TEST_CASE("a truncated archive: the members read so far count, one error names archive and member", "[batch]") {
  auto top = std::string("esx-h5-2024-01-01--10.00-1");
  std::vector<Member> m;
  m.push_back({top + "/var/run/log/hostd.log", slurp("samples/seed-failing/hostd.log")});
  std::string noise;
  for (int i = 0; i < 20000; ++i) noise += "2021-10-29T19:41:29.399Z cpu1:1)noise line " + std::to_string(i * 7919) + "\n";
  m.push_back({top + "/var/run/log/vmkernel.log", noise});
  std::string whole = make_archive(m);
  std::string cut = whole.substr(0, whole.size() * 2 / 3);

  TempDir d;
  auto r = scan_file(d.write(top + ".tgz", cut));
  REQUIRE(r.errors.size() == 1);
  INFO(r.errors[0]);
  CHECK(r.errors[0].find(top + ".tgz") != std::string::npos);
  CHECK(r.errors[0].find("vmkernel.log") != std::string::npos);
  CHECK(r.errors[0].find("truncated") != std::string::npos);
  CHECK(r.report.verdict == Verdict::problem);  // hostd.log, read before the cut, counts
  CHECK(batch::to_record(r).status == "error");

  // Not an archive at all, but a damaged gzip: one error line, exit-2 material.
  auto r2 = scan_file(d.write("esx-h6-2024-01-01--10.00-1.tgz", std::string("\x1f\x8b\x08\x00garbage", 12)));
  REQUIRE(r2.errors.size() == 1);
  CHECK(r2.errors[0].find("esx-h6-2024-01-01--10.00-1.tgz") != std::string::npos);
  CHECK_FALSE(r2.report.any_input_read);
}

TEST_CASE("plan_jobs: one job per archive, bundle folder or log file", "[batch]") {
  TempDir d;
  fs::create_directories(d.path / "fleet/site-a/esx-f1-2024-01-01--10.00-1/commands");
  fs::create_directories(d.path / "fleet/site-a/esx-f1-2024-01-01--10.00-1/var/run/log");
  d.write("fleet/site-a/esx-f1-2024-01-01--10.00-1/var/run/log/hostd.log", "x\n");
  d.write("fleet/site-a/esx-f1-2024-01-01--10.00-1/commands/uname_-a.txt", "x\n");
  d.write("fleet/b.tgz", "x");
  d.write("fleet/vmkernel.log", "x\n");
  d.write("fleet/photo.jpg", "x");
  std::vector<InputError> errors;
  auto jobs = batch::plan_jobs({(d.path / "fleet").string(), (d.path / "missing").string()}, errors);
  REQUIRE(jobs.size() == 3);
  CHECK(jobs[0].kind == "archive");
  CHECK(jobs[1].kind == "folder");
  CHECK(jobs[1].files == 2);
  CHECK(jobs[2].kind == "file");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("missing") != std::string::npos);
}

TEST_CASE("an extracted bundle folder gives the same diagnosis and metadata", "[batch]") {
  TempDir d;
  auto top = std::string("esx-host7-2024-01-01--10.00-5");
  auto root = d.path / top;
  fs::create_directories(root / "var/run/log");
  fs::create_directories(root / "commands");
  d.write(top + "/var/run/log/hostd.1.gz", gz(slurp("samples/seed-failing/hostd.log")));
  d.write(top + "/var/run/log/vmkernel.0.gz", gz(slurp("samples/seed-failing/vmkernel.log")));
  d.write(top + "/var/run/log/hostd.log", slurp("samples/seed-fixed/hostd.log"));
  for (const auto& c : commands(top, "host7")) d.write(c.path, c.data);
  auto r = scan_file(root.string());
  CHECK(r.job.kind == "folder");
  CHECK(r.report.verdict == Verdict::resolved);
  CHECK(r.bundle_host == "host7");
  CHECK(r.bundle["esxi_build"] == "19193900");
}

TEST_CASE("classify_member selects logs and command outputs", "[batch]") {
  SourceLimits l;
  CHECK(classify_member("esx-h/var/run/log/vmkernel.3.gz", 10, l) == MemberRole::scan);
  CHECK(classify_member("esx-h/var/log/vmware/vpxd/vpxd-12.log.gz", 10, l) == MemberRole::scan);
  CHECK(classify_member("esx-h/commands/smbiosDump.txt", 10, l) == MemberRole::command);
  CHECK(classify_member("esx-h/commands/smbios.bin", 10, l) == MemberRole::skip);
  CHECK(classify_member("esx-h/commands/vsi_traverse_-s.txt", 1ull << 40, l) == MemberRole::skip);
  CHECK(classify_member("esx-h/var/core/vmkernel-zdump.1", 10, l) == MemberRole::skip);
  CHECK(classify_member("esx-h/vmfs/volumes/ds1/vm1/vmware.log", 10, l) == MemberRole::skip);
  CHECK(classify_member("esx-h/etc/vmware/esx.conf", 10, l) == MemberRole::skip);
  CHECK(classify_member("hostd.log", 10, l) == MemberRole::scan);
  CHECK(classify_member("pasted.txt", 10, l) == MemberRole::scan);
  CHECK(classify_member("bundles/esx-h.tgz", 10, l) == MemberRole::scan);
}

TEST_CASE("TimelineOrder puts rotations oldest first whatever the arrival order", "[batch]") {
  TimelineOrder t;
  t.add({"a.tgz!x/var/run/log/hostd.log", "", 0});
  t.add({"a.tgz!x/var/run/log/hostd.0.gz", "", 1});
  t.add({"a.tgz!x/var/run/log/hostd.12.gz", "", 2});
  t.add({"a.tgz!x/var/run/log/hostd.2.gz", "", 3});
  auto r = t.ranks();
  CHECK(r[2] == 0);
  CHECK(r[3] == 1);
  CHECK(r[1] == 2);
  CHECK(r[0] == 3);
}

TEST_CASE("bundle metadata: globs, decodes and spec errors", "[batch]") {
  CHECK(path_tail_matches("x.tgz!esx-h/commands/smbiosDump.txt", "commands/smbiosDump.txt"));
  CHECK(path_tail_matches("/a/b/commands/vmkload_mod_-v10--l.txt", "commands/vmkload_mod_*.txt"));
  CHECK_FALSE(path_tail_matches("x.tgz!esx-h/var/commands.txt", "commands/*.txt"));
  auto spec = BundleSpec::builtin();
  REQUIRE(spec);
  BundleInfo info(**spec);
  info.add_text("b/commands/tpm2_dump.txt",
                "TPM_PT_MANUFACTURER:\n  as UINT32:                0x49465800\n  as string:                \"IFX\"\n"
                "TPM_PT_FIRMWARE_VERSION_1:  0x00070055\n");
  info.add_text("b/commands/localcli_software-vib-list.txt", "Name Version\nesx-base 7.0\n");
  auto f = info.fields();
  CHECK(f["tpm_vendor"] == "IFX");
  CHECK(f["tpm_firmware"] == "7.85");
  CHECK(f["tpmdriver_vib"] == "false");  // file read, no TPM VIB in it
  CHECK(f.count("tpm_present") == 0);    // file absent: unknown, not false

  auto bad = BundleSpec::parse(R"({"fields": [{"field": "x", "sources": [{"file": "a.txt", "pattern": "(unclosed"}]}]})",
                               "test.json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("test.json: field 'x'") != std::string::npos);
  CHECK(bad.error().message.find("pattern") != std::string::npos);

  // The built-in spec compiles its patterns on first use; check() compiles
  // them all, as `tpmdiag rules test` does at build time.
  CHECK((*spec)->check().ok());
  const char* lazy_bad = R"({"fields": [{"field": "x", "sources": [{"file": "a.txt", "pattern": "no group"}]}]})";
  auto later = BundleSpec::parse(lazy_bad, "test.json", false);
  REQUIRE(later);
  auto why = later->check();
  REQUIRE_FALSE(why.ok());
  CHECK(why.error().message.find("field 'x': sources[0]: field 'pattern': needs a capture group") != std::string::npos);
  CHECK_FALSE(BundleSpec::parse(lazy_bad, "test.json"));
}

TEST_CASE("plan_jobs: loose text files become jobs as --max-text-member decides", "[batch]") {
  auto dir = std::filesystem::temp_directory_path() / ("tpmdiag-plan-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "notes.txt") << std::string(5000, 'x') << "\n";
    std::ofstream(dir / "host.log") << std::string(5000, 'x') << "\n";
  }
  std::vector<InputError> errors;
  CHECK(batch::plan_jobs({dir.string()}, errors).size() == 2);
  SourceLimits small;
  small.max_text_member = 4096;  // notes.txt is over it; a .log is always read
  auto jobs = batch::plan_jobs({dir.string()}, errors, small);
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].path.find("host.log") != std::string::npos);
  CHECK(errors.empty());
  std::filesystem::remove_all(dir);
}
