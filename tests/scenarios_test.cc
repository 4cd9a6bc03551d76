// Scenario suite: every folder under samples/scenarios/ holds small logs built
// from the catalogue's real lines and an expect.json that says what the
// diagnosis must be:
//
//   {"verdict": "problem|resolved|healthy|no_tpm_evidence",
//    "top_cause": "id",                 optional: the first finding
//    "candidates": ["id", ...],         optional: must all be reported
//    "absent": ["id", ...],             optional: must not be reported
//    "incomplete": true,                optional: an input is not read to its end
//                                       (default false: every input read whole)
//    "description": "...", "source": "https://..."}
//
// The suite also fails if a cause of the DESIGN.md §4 taxonomy is named by no
// scenario (as top_cause or candidate), or if a healthy scenario yields any
// finding. Each mismatch is printed with its folder; the last line is
// "scenarios: N passed, N failed".
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "pipeline/run.h"

using namespace tpmdiag;
namespace fs = std::filesystem;

namespace {

// DESIGN.md §4: public, stable ids every scenario suite must cover.
const std::vector<std::string> kTaxonomy = {
    "tpm_firmware_outdated", "pcr_bank_sha1_only", "tpm_interface_crb_unsupported", "tpmdriver_load_failure",
    "ek_certificate_missing", "ek_certificate_unsupported", "tpm_hierarchy_auth", "tpm_da_lockout",
    "tpm_failure_mode", "tpm_communication_failure", "tpm_version_1_2", "secure_boot_disabled",
    "secure_boot_signature_failure", "txt_problem", "sealed_config_tpm_changed", "stale_sealed_data",
    "exec_installed_only_changed", "tpm_replaced_ek_mismatch", "encryption_mode_unsupported",
    "vcenter_stale_attestation", "tpm_event_log_incomplete", "trust_authority_base_image", "not_tpm_related"};

struct Expect {
  std::string verdict, top_cause;
  std::vector<std::string> candidates, absent;
  bool incomplete = false;
};

// Reads expect.json; returns an error message or "".
std::string read_expect(const fs::path& file, Expect& e) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.load(file.string()).get(doc)) return std::string("cannot parse: ") + simdjson::error_message(err);
  std::string_view sv;
  if (doc["verdict"].get(sv)) return "missing \"verdict\"";
  e.verdict.assign(sv);
  if (!doc["top_cause"].get(sv)) e.top_cause.assign(sv);
  bool inc = false;
  if (!doc["incomplete"].get(inc)) e.incomplete = inc;
  for (const char* key : {"candidates", "absent"}) {
    simdjson::dom::array arr;
    if (doc[key].get(arr)) continue;
    auto& out = std::string_view(key) == "candidates" ? e.candidates : e.absent;
    for (auto item : arr) {
      if (item.get(sv)) return std::string("\"") + key + "\" must list strings";
      out.emplace_back(sv);
    }
  }
  static const std::set<std::string> verdicts = {"problem", "resolved", "healthy", "no_tpm_evidence"};
  if (!verdicts.count(e.verdict)) return "unknown verdict '" + e.verdict + "'";
  return "";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "(none)" : s;
}

}  // namespace

TEST_CASE("scenarios: every folder's diagnosis matches its expect.json", "[scenarios]") {
  auto engine = Engine::load({});
  REQUIRE(engine);
  const fs::path root = fs::path(TPMDIAG_SOURCE_DIR) / "samples" / "scenarios";
  REQUIRE(fs::is_directory(root));

  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) folders.push_back(entry.path());
  std::sort(folders.begin(), folders.end());

  int passed = 0, failed = 0;
  std::set<std::string> covered;
  std::vector<std::string> problems;
  for (const auto& dir : folders) {
    const std::string name = dir.filename().string();
    std::vector<std::string> why;
    Expect e;
    if (auto err = read_expect(dir / "expect.json", e); !err.empty()) {
      why.push_back("expect.json: " + err);
    } else {
      if (!e.top_cause.empty()) covered.insert(e.top_cause);
      covered.insert(e.candidates.begin(), e.candidates.end());

      Report r = run_inputs(**engine, {dir.string()}, {});
      std::vector<std::string> found;
      for (const auto& f : r.findings) found.push_back(f.cause->id);
      auto reported = [&](const std::string& id) { return std::find(found.begin(), found.end(), id) != found.end(); };

      if (tpmdiag::name(r.verdict) != e.verdict)
        why.push_back("verdict is '" + std::string(tpmdiag::name(r.verdict)) + "', expected '" + e.verdict + "'");
      if (!e.top_cause.empty() && (found.empty() || found.front() != e.top_cause))
        why.push_back("top cause is '" + (found.empty() ? std::string("(none)") : found.front()) + "', expected '" +
                      e.top_cause + "'");
      for (const auto& c : e.candidates)
        if (!reported(c)) why.push_back("candidate '" + c + "' not reported");
      for (const auto& c : e.absent)
        if (reported(c)) why.push_back("'" + c + "' reported but must be absent");
      if (e.verdict == "healthy" && !found.empty()) why.push_back("healthy scenario has findings");
      if (r.incomplete() != e.incomplete)
        why.push_back(std::string(r.incomplete() ? "an input was not read to its end" : "every input was read") +
                      ", expected the opposite");
      if (!why.empty()) why.push_back("findings: " + join(found));
    }
    if (why.empty()) {
      ++passed;
    } else {
      ++failed;
      for (const auto& w : why) problems.push_back(name + ": " + w);
    }
  }

  std::vector<std::string> uncovered;
  for (const auto& id : kTaxonomy)
    if (!covered.count(id)) uncovered.push_back(id);

  for (const auto& p : problems) std::cout << "FAIL " << p << "\n";
  if (!uncovered.empty()) std::cout << "FAIL taxonomy ids covered by no scenario: " << join(uncovered) << "\n";
  std::cout << "scenarios: " << passed << " passed, " << failed << " failed" << std::endl;

  CHECK(folders.size() >= 40);
  CHECK(failed == 0);
  CHECK(uncovered.empty());
}
