// libFuzzer target: the rule cache's decoder (rules/rule_cache.h) on files
// it did not write. The file's sum (a hash of everything after the key and
// the sum) stops almost every damaged file before the rules are read, so the
// target writes a right sum over what it fuzzes, to reach the decoder.
//
// Input: one byte choosing how the rest makes a file's body (what follows
// the magic line, the key and the sum: the time it was written, the rule
// files' hash, the rules):
//   even: the rest is the body;
//   odd:  the body of the embedded rules' file, with the rest applied as
//         patches of 3 bytes each: a 16-bit offset (modulo the body's size)
//         and the byte to write there; 1 or 2 bytes left over cut the body
//         (at its size times the first of them / 256).
// Checked: no crash, no read past the input (ASan); a body that decodes
// encodes back to the same bytes (the format has one spelling, so the
// decoder took nothing a writer would not have written), and decodes without
// samples to the same rules but for their samples.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/hash.h"
#include "rules/rule_cache.h"

using namespace tpmdiag;

namespace {

constexpr uint64_t kKey = 0x7470'6d64'6961'6721ull;

// A file is its magic line, the key, the sum of the body, the body.
size_t head_size(const std::string& file) { return file.find('\n') + 1 + 2 * sizeof(uint64_t); }

const std::string& embedded_file() {
  static const std::string* s = [] {
    auto files = collect_data_files("rules/", {});
    if (!files) std::abort();
    auto rules = load_rules(*files);
    if (!rules) std::abort();
    std::vector<RuleAnalysis> analyses(rules->size());
    for (size_t i = 0; i < analyses.size(); ++i)
      analyses[i] = {static_cast<int>(i % 4), {{"rc", 1}, {"command", 2}}, {{"tpm2cmd", "createprimary"}, {"0x9a2"}}};
    return new std::string(RuleCache::encode(kKey, *rules, analyses));
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string& base = embedded_file();
  const size_t head = head_size(base);
  std::string body;
  if (data[0] % 2 == 0) {
    body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    body = base.substr(head);
    size_t at = 1;
    for (; at + 3 <= size && !body.empty(); at += 3) {
      size_t off = (static_cast<size_t>(data[at]) << 8 | data[at + 1]) % body.size();
      body[off] = static_cast<char>(data[at + 2]);
    }
    if (at < size) body.resize(body.size() * data[at] / 256);
  }
  std::string file = base.substr(0, head - 2 * sizeof(uint64_t));
  const uint64_t key = kKey, sum = hash_bytes(body);
  file.append(reinterpret_cast<const char*>(&key), sizeof key);
  file.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  file += body;
  // Exactly the file's bytes on the heap: a read past them is caught.
  std::vector<char> exact(file.begin(), file.end());
  std::vector<Rule> rules;
  std::vector<RuleAnalysis> analyses;
  RuleCache::Written written;
  if (!RuleCache::decode(std::string_view(exact.data(), exact.size()), kKey, rules, analyses, true, &written)) {
    if (!rules.empty() || !analyses.empty()) std::abort();  // a failed decode leaves nothing to use
    return 0;
  }
  if (RuleCache::encode(kKey, rules, analyses, written) != file) std::abort();
  // Without samples: decodes too, to the same rules but for their samples.
  std::vector<Rule> lean;
  std::vector<RuleAnalysis> lean_analyses;
  if (!RuleCache::decode(std::string_view(exact.data(), exact.size()), kKey, lean, lean_analyses, false)) std::abort();
  if (lean.size() != rules.size() || lean_analyses != analyses) std::abort();
  for (size_t i = 0; i < rules.size(); ++i) {
    Rule want = rules[i];
    want.match_samples.clear();
    want.nomatch_samples.clear();
    if (!(lean[i] == want)) std::abort();
  }
  return 0;
}
