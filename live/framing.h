// Framing for live input (DESIGN.md §2 "framing"): byte streams cut into
// syslog messages.
//
// A StreamFramer is the state of one stream (one TCP connection, one followed
// file, stdin). Feed it whatever bytes arrived; it calls back once per whole
// message and returns how many bytes it used. The caller keeps the rest and
// feeds it again, with more bytes appended, when they arrive:
//
//   StreamFramer fr(StreamFramer::Mode::syslog_tcp, 64 * 1024);
//   size_t used = fr.feed(buf, n, [&](std::string_view msg, bool cut) { ... });
//   pending.assign(buf + used, n - used);          // an incomplete frame
//   ...
//   fr.finish(pending.data(), pending.size(), on_msg);   // end of stream
//
// Modes:
//   syslog_tcp  RFC 6587, detected per frame as OpenBSD syslogd and rsyslog do:
//               a frame that starts with a non-zero digit, then up to 9 digits
//               and a space, is octet-counted ("MSG-LEN SP SYSLOG-MSG");
//               anything else (including an invalid count such as "2021-10-29"
//               or "07 ") is one LF-terminated message (non-transparent).
//   lines       LF-terminated lines only (files, stdin): a line that starts
//               with "123 " is text, never a count.
// In both modes a trailing CR is dropped. syslog_tcp skips empty messages (so
// the LF some senders add after an octet-counted frame does no harm); lines
// delivers empty lines too, so that callers can count file line numbers.
//
// Limits: a message longer than max_frame is cut to its first max_frame bytes,
// delivered with cut = true, and the rest of it is skipped (an octet-counted
// frame by its count, a line up to its LF). Memory the caller must keep per
// stream is therefore at most max_frame + the size of one read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tpmdiag::live {

class StreamFramer {
 public:
  enum class Mode { syslog_tcp, lines };

  StreamFramer(Mode mode, size_t max_frame) : mode_(mode), max_frame_(max_frame < 16 ? 16 : max_frame) {}

  // Delivers every whole message in data[0..n) to on_msg(std::string_view,
  // bool cut) and returns the number of bytes consumed; the caller must present
  // the unconsumed tail again at the start of the next call.
  template <class F>
  size_t feed(const char* data, size_t n, F&& on_msg);

  // End of stream: delivers an unterminated last line (LF framing) as a
  // message. An incomplete octet-counted frame is not a message: it is
  // counted in partial_frames and dropped.
  template <class F>
  void finish(const char* data, size_t n, F&& on_msg);

  uint64_t octet_frames = 0;    // messages framed by an octet count
  uint64_t lf_frames = 0;       // messages framed by LF (or end of stream)
  uint64_t cut_frames = 0;      // messages longer than max_frame, cut
  uint64_t partial_frames = 0;  // incomplete frames dropped at end of stream

  // Result of looking at a frame start: octet count found, none, or need more
  // bytes. On yes, `header` is the count's length with its space, `len` the
  // count. Counts above kMaxCountFactor x max_frame are not taken as counts.
  enum class Count { yes, no, more };
  static constexpr size_t kMaxCountFactor = 16;
  Count parse_count(const char* p, size_t n, size_t& header, size_t& len) const;

 private:

  template <class F>
  void emit(const char* p, size_t n, bool cut, F& on_msg) {
    if (n > 0 && p[n - 1] == '\r') --n;
    if (n > 0 || mode_ == Mode::lines) on_msg(std::string_view(p, n), cut);
  }

  Mode mode_;
  size_t max_frame_;
  size_t skip_bytes_ = 0;   // rest of a cut octet-counted frame
  bool skip_line_ = false;  // rest of a cut line
};

template <class F>
size_t StreamFramer::feed(const char* data, size_t n, F&& on_msg) {
  size_t pos = 0;
  while (pos < n) {
    if (skip_bytes_ > 0) {
      size_t k = skip_bytes_ < n - pos ? skip_bytes_ : n - pos;
      skip_bytes_ -= k;
      pos += k;
      continue;
    }
    if (skip_line_) {
      const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', n - pos));
      if (!nl) return n;
      pos = static_cast<size_t>(nl - data) + 1;
      skip_line_ = false;
      continue;
    }
    const char* p = data + pos;
    size_t avail = n - pos;
    if (mode_ == Mode::syslog_tcp) {
      // Separators some senders put between octet-counted frames.
      if (*p == '\n' || *p == '\r' || *p == '\0') {
        ++pos;
        continue;
      }
      size_t header = 0, len = 0;
      Count c = parse_count(p, avail, header, len);
      if (c == Count::more) return pos;
      if (c == Count::yes) {
        if (len <= max_frame_) {
          if (avail - header < len) return pos;
          ++octet_frames;
          emit(p + header, len, false, on_msg);
          pos += header + len;
        } else {
          if (avail - header < max_frame_) return pos;
          ++octet_frames;
          ++cut_frames;
          emit(p + header, max_frame_, true, on_msg);
          pos += header + max_frame_;
          skip_bytes_ = len - max_frame_;
        }
        continue;
      }
    }
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', avail < max_frame_ + 1 ? avail : max_frame_ + 1));
    if (nl) {
      ++lf_frames;
      emit(p, static_cast<size_t>(nl - p), false, on_msg);
      pos += static_cast<size_t>(nl - p) + 1;
      continue;
    }
    if (avail > max_frame_) {
      ++lf_frames;
      ++cut_frames;
      emit(p, max_frame_, true, on_msg);
      pos += max_frame_;
      skip_line_ = true;
      continue;
    }
    return pos;
  }
  return pos;
}

template <class F>
void StreamFramer::finish(const char* data, size_t n, F&& on_msg) {
  size_t used = feed(data, n, on_msg);
  if (used >= n || skip_bytes_ > 0 || skip_line_) {
    if (skip_bytes_ > 0) ++partial_frames;
    skip_bytes_ = 0;
    skip_line_ = false;
    return;
  }
  const char* p = data + used;
  size_t rest = n - used;
  if (mode_ == Mode::syslog_tcp) {
    size_t header = 0, len = 0;
    if (parse_count(p, rest, header, len) != Count::no) {
      ++partial_frames;
      return;
    }
  }
  ++lf_frames;
  emit(p, rest, false, on_msg);
}

// A stream reader's step: frames what arrived after the incomplete frame kept
// in `pending`, and keeps the new incomplete frame there.
template <class F>
void feed_pending(StreamFramer& fr, std::string& pending, const char* data, size_t n, F&& on_msg) {
  if (pending.empty()) {
    size_t used = fr.feed(data, n, on_msg);
    pending.assign(data + used, n - used);
  } else {
    pending.append(data, n);
    size_t used = fr.feed(pending.data(), pending.size(), on_msg);
    pending.erase(0, used);
  }
}

}  // namespace tpmdiag::live
