// Unit tests for the TPM lexicon (rules/lexicon.h, data in rules/lexicon/):
// the embedded data loads and passes its samples, word boundaries and letter
// case work as documented, and bad files fail with a message naming file and
// field or sample.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/normalize.h"
#include "rules/lexicon.h"

using namespace tpmdiag;

namespace {

const Lexicon& embedded() {
  static Lexicon lex = [] {
    auto files = collect_data_files("rules/lexicon/", {});
    REQUIRE(files);
    REQUIRE(!files->empty());
    auto l = load_lexicon(*files);
    if (!l) FAIL(l.error().message);
    return std::move(*l);
  }();
  return lex;
}

std::string load_error(const std::string& json) {
  auto l = load_lexicon({{"rules/lexicon/x.json", json}});
  return l ? std::string() : l.error().message;
}

}  // namespace

TEST_CASE("lexicon: the embedded lexicon loads and its samples pass", "[lexicon]") {
  const Lexicon& lex = embedded();
  CHECK(lex.self_test().empty());
  CHECK(lex.tpm_terms().size() >= 20);
  CHECK(lex.failure_terms().size() >= 20);
  CHECK(lex.samples().size() >= 20);
}

TEST_CASE("lexicon: the issue's unknown TPM error lines are found", "[lexicon]") {
  const Lexicon& lex = embedded();
  for (const char* line : {"WARNING: tpmDriver: TpmWaitReady:402: TPM not ready after 750 ms",
                           "Tpm20Provider: failed to seal configuration: unexpected response"}) {
    CAPTURE(line);
    CHECK(lex.mentions_tpm(line));
    CHECK(lex.failure_like(line, Severity::none));
    CHECK(lex.has_failure_word(line));
  }
}

TEST_CASE("lexicon: non-TPM noise and look-alike words are not TPM lines", "[lexicon]") {
  const Lexicon& lex = embedded();
  for (const char* line : {"ACME corp", "texture", "peak", "a week ago", "Activating Jumpstart plugin vmkeventd.",
                           "WARNING: ScsiDeviceIO: 1513: Device naa.600 performance has deteriorated.",
                           "commands/localcli_software-vib-list.txt", "NUMA", "Failover"}) {
    CAPTURE(line);
    CHECK_FALSE(lex.mentions_tpm(line));
  }
}

TEST_CASE("lexicon: boundaries and letter case", "[lexicon]") {
  const Lexicon& lex = embedded();
  // '_', '.', '-', ':' are boundaries; letters and digits are not.
  CHECK(lex.mentions_tpm("VMB_TPM: 99: Unsupported"));
  CHECK(lex.mentions_tpm("esx.problem.hardware.tpm2.nosha256"));
  CHECK(lex.mentions_tpm("tpmDriver: Tpm2Init:1859"));
  CHECK(lex.mentions_tpm("PCR_Read"));
  CHECK(lex.mentions_tpm("(EK)"));
  CHECK(lex.mentions_tpm("TXT:"));
  CHECK_FALSE(lex.mentions_tpm("ek"));   // exact case
  CHECK_FALSE(lex.mentions_tpm("txt"));  // exact case
  CHECK_FALSE(lex.mentions_tpm("ACMs"));
  CHECK_FALSE(lex.mentions_tpm("PEEK"));
  CHECK(lex.mentions_tpm("the pcr bank"));  // PCR: any case
  CHECK(lex.mentions_tpm("uefi SECURE BOOT failed"));
  // Failure words are whole words.
  CHECK(lex.has_failure_word("TPM failed"));
  CHECK(lex.has_failure_word("TPM_RC_LOCKOUT"));
  CHECK(lex.has_failure_word("couldn't perform TIS init"));
  CHECK_FALSE(lex.has_failure_word("Failover"));
  CHECK_FALSE(lex.has_failure_word("errorless"));
  // The level alone makes a line failure-like.
  CHECK(lex.failure_like("Tpm20Provider created.", Severity::warning));
  CHECK(lex.failure_like("Tpm20Provider created.", Severity::critical));
  CHECK_FALSE(lex.failure_like("Tpm20Provider created.", Severity::notice));
  CHECK_FALSE(lex.failure_like("Tpm20Provider created.", Severity::none));
}

TEST_CASE("lexicon: text copied from a web page matches once normalised", "[lexicon]") {
  const Lexicon& lex = embedded();
  std::string buf;
  std::string line = "Tpm20Provider:\xC2\xA0" "couldn\xE2\x80\x99t\xC2\xA0" "unseal";
  CHECK_FALSE(lex.has_failure_word(line));
  CHECK(lex.has_failure_word(normalize_text(line, buf)));
}

TEST_CASE("lexicon: the pattern of a list", "[lexicon]") {
  std::vector<LexiconTerm> terms(3);
  terms[0].text = "EK";
  terms[0].exact_case = true;
  terms[1].text = "tpm";
  terms[1].match = LexiconTerm::Match::prefix;
  terms[2].text = "a.b";
  terms[2].match = LexiconTerm::Match::anywhere;
  CHECK(lexicon_pattern(terms) ==
        "(?:^|[^A-Za-z0-9])EK(?:$|[^A-Za-z0-9])|(?:^|[^A-Za-z0-9])(?i:tpm)|(?i:a\\.b)");
}

TEST_CASE("lexicon: bad files fail with file and field named", "[lexicon]") {
  const std::string ok_samples = R"("samples": [{"line": "TPM failed", "tpm": true, "failure": true}])";
  CHECK(load_error(R"({"lexicon": "x", "tpm": ["TPM"], "failure": ["failed"], )" + ok_samples + "}").empty());
  CHECK(load_error("[]") == "rules/lexicon/x.json: top level must be an object");
  CHECK(load_error(R"({"lexicon": "x", "tpm": ["TPM"], "failure": ["failed"], "sampels": []})")
            .find("field 'sampels'") != std::string::npos);
  CHECK(load_error(R"({"lexicon": "x", "tpm": ["TPM"], "failure": ["failed"]})")
            .find("field 'samples': missing") != std::string::npos);
  CHECK(load_error(R"({"lexicon": "x", "tpm": [{"text": "TPM", "match": "whole"}], "failure": ["failed"], )" +
                   ok_samples + "}")
            .find("field 'tpm[0].match': must be word, prefix or anywhere") != std::string::npos);
  CHECK(load_error(R"({"lexicon": "x", "tpm": [{"text": "TPM", "case": "upper"}], "failure": ["failed"], )" +
                   ok_samples + "}")
            .find("field 'tpm[0].case'") != std::string::npos);
  CHECK(load_error(R"({"lexicon": "x", "tpm": ["--"], "failure": ["failed"], )" + ok_samples + "}")
            .find("field 'tpm[0]': '--' needs at least one letter or digit") != std::string::npos);
  CHECK(load_error(R"({"lexicon": "x", "tpm": [7], "failure": ["failed"], )" + ok_samples + "}")
            .find("field 'tpm[0]'") != std::string::npos);
  CHECK(load_error(R"({"lexicon": "x", "tpm": ["TPM"], )" + ok_samples + "}") ==
        "lexicon: no file lists a 'failure' term");
  CHECK(load_error(R"({"lexicon": "x", "tpm": ["TPM"], "failure": ["failed"],
                       "samples": [{"line": "TPM failed", "tpm": true}]})")
            .find("field 'samples[0].failure': missing") != std::string::npos);
  CHECK(load_error(R"({"lexicon": "x", "tpm": ["TPM"], "failure": ["failed"],
                       "samples": [{"line": "TPM", "severity": "loud", "tpm": true, "failure": false}]})")
            .find("field 'samples[0].severity': unknown severity 'loud'") != std::string::npos);
}

TEST_CASE("lexicon: a sample with the wrong answer is a load error naming it", "[lexicon]") {
  auto err = load_error(R"({"lexicon": "x", "tpm": ["TPM"], "failure": ["failed"],
                            "samples": [{"line": "TPM works", "tpm": true, "failure": false},
                                        {"line": "texture", "tpm": true, "failure": false}]})");
  CHECK(err == "rules/lexicon/x.json: sample 'texture': mentions_tpm is false, expected true");
  err = load_error(R"({"lexicon": "x", "tpm": ["TPM"], "failure": ["failed"],
                       "samples": [{"line": "TPM", "severity": "error", "tpm": true, "failure": false}]})");
  CHECK(err == "rules/lexicon/x.json: sample 'TPM': failure_like is true, expected false");
}

TEST_CASE("lexicon: later files add terms; every file's samples run against the merged lists", "[lexicon]") {
  auto l = load_lexicon({{"a.json", R"({"lexicon": "a", "tpm": ["TPM"], "failure": ["failed"],
                                        "samples": [{"line": "TPM failed", "tpm": true, "failure": true}]})"},
                         {"b.json", R"({"lexicon": "b", "tpm": ["SINIT"],
                                        "samples": [{"line": "SINIT failed", "tpm": true, "failure": true}]})"}});
  REQUIRE(l);
  CHECK(l->mentions_tpm("SINIT"));
  CHECK(l->tpm_terms().size() == 2);
  CHECK(l->tpm_terms()[1].file == "b.json");
}
