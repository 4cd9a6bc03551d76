// libFuzzer target: the archive reader and input walk (parsers/inputs.h
// walk_source over memory_source): gzip, tar, zip, cpio, bzip2/xz/zstd,
// nested up to SourceLimits::max_depth, read as streams.
//
// Every stream the walk yields is read to its end (or its error). Small
// limits keep one input cheap: a bomb must stop at max_decompressed. Checked:
// no crash, no hang, no sanitizer report; every error is one line naming the
// input; no stream yields more than max_decompressed bytes. Member names also
// go through classify_member, host_from_path and timeline_key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "parsers/inputs.h"

using namespace tpmdiag;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr const char* kName = "fuzz.bin";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SourceLimits limits;
  limits.max_decompressed = 8ull << 20;
  limits.max_text_member = 1ull << 20;
  limits.max_depth = 4;
  static char buf[1 << 16];
  auto on_stream = [&](const StreamInfo& info, ByteSource& src) {
    check(info.name.rfind(kName, 0) == 0);
    check(info.name.find('\n') == std::string::npos);
    (void)classify_member(info.name, 0, limits);
    (void)host_from_path(info.name);
    (void)timeline_key(info.name);
    uint64_t total = 0;
    for (;;) {
      auto n = src.read(buf, sizeof buf);
      if (!n) {
        check(n.error().message.find('\n') == std::string::npos);
        break;
      }
      if (*n == 0) break;
      check(*n <= sizeof buf);
      total += *n;
      check(total <= limits.max_decompressed);
    }
  };
  auto on_error = [&](const InputError& e) {
    check(e.message.find('\n') == std::string::npos);
    check(e.message.find(kName) != std::string::npos);
  };
  walk_source(kName, memory_source(std::string(reinterpret_cast<const char*>(data), size)), limits,
              on_stream, on_error);
  // The text as a member path, too.
  std::string_view path(reinterpret_cast<const char*>(data), size < 4096 ? size : 4096);
  (void)classify_member(path, size, limits);
  (void)host_from_path(path);
  (void)timeline_key(path);
  return 0;
}
