// Hostile inputs at the unit level (issue 9), and replay of the fuzz
// regressions: every file under tests/fuzz-regressions/<target>/ is an input
// that once crashed or hung the fuzz target <target> (parsers/format_fuzz.cc,
// ...); it is run again here through the same entry points, so a fixed bug
// stays fixed in every build, sanitizer builds included. Add a file there
// when a fuzzer finds something (tests/fuzz.sh keeps the crash inputs).
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kb/cause.h"
#include "pipeline/run.h"
#include "kb/rc.h"
#include "live/framing.h"
#include "parsers/envelope.h"
#include "parsers/format.h"
#include "parsers/inputs.h"
#include "parsers/mapped.h"
#include "pipeline/scanner.h"
#include "rules/matcher.h"
#include "rules/rule.h"
#include "pipeline/selftest.h"

using namespace tpmdiag;
namespace fs = std::filesystem;

namespace {

const Engine& hostile_engine() {
  static const Engine* e = [] {
    auto r = Engine::load({});
    if (!r) FAIL(r.error().message);
    return r->release();
  }();
  return *e;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> regressions(const std::string& target) {
  std::vector<fs::path> out;
  fs::path dir = fs::path(TPMDIAG_SOURCE_DIR) / "tests" / "fuzz-regressions" / target;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.' && e.path().extension() != ".md")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

bool one_line(const std::string& s) { return s.find('\n') == std::string::npos; }

// --- the fuzz targets' bodies, without libFuzzer -------------------------------

void replay_format(std::string_view all) {
  const FormatSet& fs = hostile_engine().formats();
  ParseScratch scratch;
  auto one = [&](std::string_view line) {
    Event ev;
    fs.parse(line, ev, scratch);
    for (const Format& f : fs.formats()) fs.parse(line, ev, scratch, &f);
  };
  one(all);
  size_t start = 0;
  while (start < all.size()) {
    size_t nl = all.find('\n', start);
    if (nl == std::string_view::npos) nl = all.size();
    one(all.substr(start, nl - start));
    start = nl + 1;
  }
}

void replay_json_lines(std::string_view all) {
  JsonKeys keys;
  for (const Format& f : hostile_engine().formats().formats())
    if (f.type == FormatType::json) keys = f.keys;
  JsonUnwrapper json;
  JsonRecord rec;
  std::string storage;
  size_t start = 0;
  while (start <= all.size()) {
    size_t nl = all.find('\n', start);
    if (nl == std::string_view::npos) nl = all.size();
    std::string_view line = all.substr(start, nl - start);
    if (json.unwrap(keys, line, rec)) CHECK(rec.severity_num >= -1);
    (void)sd_param(line, "sub", storage);
    (void)severity_from_pri(line);
    start = nl + 1;
  }
}

std::vector<std::pair<std::string, bool>> frame(live::StreamFramer::Mode mode, size_t max_frame,
                                                std::string_view stream, size_t piece) {
  live::StreamFramer fr(mode, max_frame);
  std::vector<std::pair<std::string, bool>> out;
  auto on_msg = [&](std::string_view m, bool cut) { out.emplace_back(std::string(m), cut); };
  std::string pending;
  for (size_t at = 0; at < stream.size();) {
    size_t n = std::min(piece ? piece : stream.size(), stream.size() - at);
    pending.append(stream.data() + at, n);
    at += n;
    size_t used = fr.feed(pending.data(), pending.size(), on_msg);
    REQUIRE(used <= pending.size());
    pending.erase(0, used);
  }
  fr.finish(pending.data(), pending.size(), on_msg);
  return out;
}

void replay_framing(std::string_view data) {
  if (data.size() < 3) return;
  auto mode = (data[0] & 1) ? live::StreamFramer::Mode::syslog_tcp : live::StreamFramer::Mode::lines;
  size_t max_frame = 1 + static_cast<unsigned char>(data[1]) % 64;
  std::string_view stream = data.substr(3);
  auto whole = frame(mode, max_frame, stream, 0);
  for (size_t piece : {1, 3, 17}) CHECK(frame(mode, max_frame, stream, piece) == whole);
}

void replay_rules(const std::string& text) {
  const std::string name = "fuzz/input.json";
  auto alone = load_rules({{name, text}});
  if (!alone) {
    CHECK(one_line(alone.error().message));
    CHECK(alone.error().message.find(name) != std::string::npos);
  } else if (!alone->empty() && alone->size() <= 8) {
    auto m = Matcher::build(std::move(*alone));
    if (m) (void)test_rules(*m, hostile_engine().formats());
    else CHECK(one_line(m.error().message));
  }
  std::set<std::string> facts;
  for (const auto& r : hostile_engine().matcher().rules()) facts.insert(r.fact);
  auto causes = load_causes({{name, text}}, std::vector<std::string>(facts.begin(), facts.end()));
  if (!causes) CHECK(one_line(causes.error().message));
}

void replay_rc(std::string_view text) {
  auto code = rc::parse_code(text);
  if (code) {
    auto d = rc::decode(*code);
    CHECK(!d.description.empty());
    auto back = rc::parse_code(rc::format_code(*code));
    REQUIRE(back);
    CHECK(*back == *code);
  } else {
    CHECK(one_line(code.error().message));
  }
  auto ctx = rc::load_context(text, "fuzz/rc_context.json");
  if (!ctx) CHECK(one_line(ctx.error().message));
}

void replay_archive(const std::string& data) {
  SourceLimits limits;
  limits.max_decompressed = 8ull << 20;
  limits.max_text_member = 1ull << 20;
  std::vector<char> buf(1 << 16);
  walk_source(
      "fuzz.bin", memory_source(data), limits,
      [&](const StreamInfo& info, ByteSource& src) {
        CHECK(info.name.rfind("fuzz.bin", 0) == 0);
        uint64_t total = 0;
        for (;;) {
          auto n = src.read(buf.data(), buf.size());
          if (!n) {
            CHECK(one_line(n.error().message));
            break;
          }
          if (*n == 0) break;
          total += *n;
          REQUIRE(total <= limits.max_decompressed);
        }
      },
      [&](const InputError& e) {
        CHECK(one_line(e.message));
        CHECK(e.message.find("fuzz.bin") != std::string::npos);
      });
}

void replay_scanner(std::string_view data) {
  if (data.empty()) return;
  const Engine& e = hostile_engine();
  static const size_t kMaxLine[] = {64, 200, 4096, 1 << 20};
  unsigned char ctl = static_cast<unsigned char>(data[0]);
  for (bool prefilter : {true, false}) {
    ScanOptions opts;
    opts.max_line = kMaxLine[ctl & 3];
    opts.prefilter = prefilter;
    if (ctl & 0x20) {
      const auto& fs = e.formats().formats();
      if (!fs.empty()) opts.input_format = fs[(ctl >> 6) % fs.size()].name;
    }
    Scanner sc(e.matcher(), e.formats(), opts);
    std::vector<Fact> facts;
    InputStats stats;
    auto src = memory_source(std::string(data.substr(1)));
    CHECK(sc.scan(*src, "fuzz.log", 0, facts, stats).ok());
  }
}

}  // namespace

TEST_CASE("fuzz regressions replay", "[hostile][fuzz]") {
  struct Target {
    const char* name;
    void (*run)(const std::string&);
  };
  const Target targets[] = {
      {"format_fuzz", [](const std::string& d) { replay_format(d); }},
      {"json_lines_fuzz", [](const std::string& d) { replay_json_lines(d); }},
      {"framing_fuzz", [](const std::string& d) { replay_framing(d); }},
      {"rule_loader_fuzz", [](const std::string& d) { replay_rules(d); }},
      {"rc_fuzz", [](const std::string& d) { replay_rc(d); }},
      {"archive_fuzz", [](const std::string& d) { replay_archive(d); }},
      {"scanner_fuzz", [](const std::string& d) { replay_scanner(d); }},
  };
  size_t n = 0;
  for (const auto& t : targets)
    for (const auto& p : regressions(t.name)) {
      INFO("tests/fuzz-regressions/" << t.name << "/" << p.filename().string());
      t.run(read_all(p));
      ++n;
    }
  // Every folder under tests/fuzz-regressions/ names a known target.
  fs::path root = fs::path(TPMDIAG_SOURCE_DIR) / "tests" / "fuzz-regressions";
  std::error_code ec;
  if (fs::is_directory(root, ec))
    for (const auto& e : fs::directory_iterator(root)) {
      if (!e.is_directory()) continue;
      bool known = false;
      for (const auto& t : targets) known = known || e.path().filename() == t.name;
      INFO("unknown fuzz target folder " << e.path().string());
      CHECK(known);
    }
  SUCCEED(n << " regression inputs replayed");
}

TEST_CASE("framing: the same messages however the stream is cut", "[hostile][framing]") {
  const std::string stream =
      "12 <11>1 a b c\n"                      // octet-counted
      "<11>1 plain line\r\n"                  // LF-framed with CR
      "2021-10-29 not a count\n"              // a date is not a count
      "99999999999 too many digits\n"         // 11 digits: LF framing
      "70 <11>1 2024-05-01T10:00:00.000Z h Hostd 1 - - Tpm2Cmd: CreatePrimary: (0x9a2)"
      "\n\n\0\r"
      "30 cut-me-because-this-frame-is-longer-than-max\n"
      "unterminated tail";
  for (auto mode : {live::StreamFramer::Mode::syslog_tcp, live::StreamFramer::Mode::lines}) {
    for (size_t max_frame : {16, 20, 64, 4096}) {
      auto whole = frame(mode, max_frame, stream, 0);
      for (size_t piece : {1, 2, 5, 11, 64}) {
        INFO("mode " << (mode == live::StreamFramer::Mode::lines ? "lines" : "tcp") << " max_frame " << max_frame
                     << " piece " << piece);
        CHECK(frame(mode, max_frame, stream, piece) == whole);
      }
      for (const auto& [m, cut] : whole) CHECK(m.size() <= max_frame);
    }
  }
}

TEST_CASE("framing: a half frame at the end is dropped and counted", "[hostile][framing]") {
  live::StreamFramer fr(live::StreamFramer::Mode::syslog_tcp, 1024);
  std::vector<std::string> got;
  std::string s = "500 <11>1 2024 h Hostd - - Tpm2Cmd: Crea";
  size_t used = fr.feed(s.data(), s.size(), [&](std::string_view m, bool) { got.emplace_back(m); });
  CHECK(used == 0);
  fr.finish(s.data() + used, s.size() - used, [&](std::string_view m, bool) { got.emplace_back(m); });
  CHECK(got.empty());
  CHECK(fr.partial_frames == 1);
}

TEST_CASE("gzip bomb stops at max_decompressed with a one-line error", "[hostile][archive]") {
  // 16 MiB of zeros, gzipped here (16 KiB); the walk must stop at 1 MiB.
  std::string zeros(16u << 20, '\0'), gz(zeros.size() / 100 + 4096, '\0');
  z_stream z{};
  REQUIRE(deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(zeros.data());
  z.avail_in = static_cast<uInt>(zeros.size());
  z.next_out = reinterpret_cast<Bytef*>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  gz.resize(z.total_out);
  deflateEnd(&z);

  SourceLimits limits;
  limits.max_decompressed = 1u << 20;
  uint64_t total = 0;
  std::vector<std::string> errors;
  std::vector<char> buf(1 << 16);
  walk_source(
      "bomb.gz", memory_source(gz), limits,
      [&](const StreamInfo&, ByteSource& src) {
        for (;;) {
          auto n = src.read(buf.data(), buf.size());
          if (!n) {
            errors.push_back(n.error().message);
            break;
          }
          if (*n == 0) break;
          total += *n;
        }
      },
      [&](const InputError& e) { errors.push_back(e.message); });
  CHECK(total <= limits.max_decompressed);
  REQUIRE(errors.size() == 1);
  CHECK(one_line(errors[0]));
  CHECK(errors[0].find("bomb.gz") != std::string::npos);
}

TEST_CASE("scanner: a line far over max_line is cut, matched and counted", "[hostile][scanner]") {
  const Engine& e = hostile_engine();
  ScanOptions opts;
  opts.max_line = 4096;
  Scanner sc(e.matcher(), e.formats(), opts);
  std::string data = "Tpm2Cmd: CreatePrimary: (0x9a2) Unknown" + std::string(3u << 20, 'a') + "\nnext line\n" +
                     "Tpm2Cmd: DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT\n";
  auto src = memory_source(data);
  std::vector<Fact> facts;
  InputStats stats;
  REQUIRE(sc.scan(*src, "long.log", 0, facts, stats).ok());
  CHECK(stats.cut_lines == 1);
  CHECK(stats.lines == 3);
  std::set<uint64_t> lines;
  for (const auto& f : facts) {
    lines.insert(f.line);
    CHECK(f.text.size() <= opts.max_line);
  }
  CHECK(lines.count(1) == 1);
  CHECK(lines.count(3) == 1);
}

TEST_CASE("scanner: identical facts are folded per window, and facts are capped per input", "[hostile][scanner]") {
  const Engine& e = hostile_engine();
  const std::string lockout =
      "2021-10-29T19:41:30.000Z info hostd[2099349] [Originator@6876 sub=Hostsvc.Tpm20Provider] Tpm2Cmd: "
      "DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT\n";
  const std::string boot = "2021-10-29T19:41:04.933Z cpu16:2097621)Loading module tpmdriver ...\n";
  std::string data;
  for (int i = 0; i < 10000; ++i) data += lockout;
  data += boot;
  for (int i = 0; i < 3; ++i) data += lockout;
  for (bool prefilter : {true, false}) {
    ScanOptions opts;
    opts.prefilter = prefilter;
    Scanner sc(e.matcher(), e.formats(), opts);
    auto src = memory_source(data);
    std::vector<Fact> facts;
    InputStats stats;
    REQUIRE(sc.scan(*src, "flood.log", 0, facts, stats).ok());
    size_t before_boot = 0, after_boot = 0;
    uint64_t repeats = 0;
    for (const auto& f : facts) {
      if (f.rule->id == "vmk.tpmdriver_loading") continue;
      (f.line <= 10000 ? before_boot : after_boot) += 1;
      repeats += f.repeats;
      if (f.repeats) CHECK(f.last_line == 10000);
    }
    CHECK(before_boot == opts.keep_same);  // the window after the boot line keeps its own
    CHECK(after_boot == 3);
    CHECK(repeats == 10000 - opts.keep_same);
    CHECK(stats.repeated_facts == repeats);
  }
  // Distinct symptom facts: kept up to kNeededFactor x max_facts (what a
  // verdict rests on), the rest counted as dropped and as needed.
  std::string distinct;
  for (int i = 0; i < 500; ++i)
    distinct += "Tpm2Cmd: CreatePrimary: (0x" + std::to_string(900 + i) + ") Unknown\n";
  ScanOptions opts;
  opts.max_facts = 100;
  Scanner sc(e.matcher(), e.formats(), opts);
  auto src = memory_source(distinct);
  std::vector<Fact> facts;
  InputStats stats;
  REQUIRE(sc.scan(*src, "distinct.log", 0, facts, stats).ok());
  CHECK(facts.size() == opts.max_facts * kNeededFactor);
  CHECK(stats.dropped_facts > 0);
  CHECK(stats.dropped_needed == stats.dropped_facts);
  CHECK(facts.size() + stats.dropped_facts + stats.repeated_facts >= 500);
}

TEST_CASE("mapped file: shrinking under the scan reads zeros and is reported, never SIGBUS", "[hostile][mapped]") {
  auto path = (std::filesystem::temp_directory_path() / ("tpmdiag-shrink-" + std::to_string(::getpid()))).string();
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(1 << 20, 'x');
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto m = MappedFile::open(fd, path);
  REQUIRE(m.ok());
  CHECK((*m)->size() == (1u << 20));
  CHECK((*m)->data()[100] == 'x');
  CHECK(!(*m)->shrank());
  REQUIRE(::ftruncate(fd, 4096) == 0);  // another process truncates the log
  volatile const char* p = (*m)->data();
  CHECK(p[100] == 'x');           // still inside the file
  CHECK(p[(1 << 20) - 1] == 0);   // past the new end: a zero page, not SIGBUS
  CHECK((*m)->shrank());
  ::close(fd);
  std::filesystem::remove(path);
}
