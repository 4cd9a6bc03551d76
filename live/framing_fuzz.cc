// libFuzzer target: syslog TCP framing (live/framing.h), both modes.
//
// The first bytes choose the mode, max_frame and how the stream is cut into
// reads; the rest is the stream. It is framed twice — fed whole, and fed in
// the chosen pieces the way a connection delivers them (unconsumed tail kept
// and presented again) — and both must give the same messages. Also checked:
// feed() never claims more than it was given, every message is at most
// max_frame bytes, a cut message is exactly max_frame bytes (less a CR), and
// the tail a caller must keep stays under max_frame + the framing header +
// one read (the memory bound framing.h promises).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "live/framing.h"

using tpmdiag::live::StreamFramer;

namespace {

struct Msg {
  std::string text;
  bool cut;
  bool operator==(const Msg&) const = default;
};

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<Msg> frame(StreamFramer::Mode mode, size_t max_frame, std::string_view stream,
                       const std::vector<size_t>& pieces) {
  StreamFramer fr(mode, max_frame);
  size_t eff_max = max_frame < 16 ? 16 : max_frame;
  std::vector<Msg> out;
  auto on_msg = [&](std::string_view m, bool cut) {
    check(m.size() <= eff_max);
    if (cut) check(m.size() == eff_max || (m.size() == eff_max - 1 && m.size() > 0));
    out.push_back({std::string(m), cut});
  };
  std::string pending;
  size_t at = 0, k = 0;
  while (at < stream.size()) {
    size_t n = pieces.empty() ? stream.size() - at : pieces[k++ % pieces.size()];
    if (n > stream.size() - at) n = stream.size() - at;
    pending.append(stream.data() + at, n);
    at += n;
    size_t used = fr.feed(pending.data(), pending.size(), on_msg);
    check(used <= pending.size());
    pending.erase(0, used);
    // A caller keeps at most max_frame + header (10 digits + SP) + one read.
    if (!pieces.empty()) check(pending.size() <= eff_max + 11 + n);
  }
  fr.finish(pending.data(), pending.size(), on_msg);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  auto mode = (data[0] & 1) ? StreamFramer::Mode::syslog_tcp : StreamFramer::Mode::lines;
  size_t max_frame = 1 + data[1] % 64;  // below 16 too: the framer raises it
  size_t npieces = 1 + data[2] % 8;
  if (size < 3 + npieces) return 0;
  std::vector<size_t> pieces;
  for (size_t i = 0; i < npieces; ++i) pieces.push_back(1 + data[3 + i] % 40);
  std::string_view stream(reinterpret_cast<const char*>(data) + 3 + npieces, size - 3 - npieces);

  auto whole = frame(mode, max_frame, stream, {});
  auto split = frame(mode, max_frame, stream, pieces);
  auto bytewise = frame(mode, max_frame, stream, {1});
  check(whole == split);
  check(whole == bytewise);
  return 0;
}
