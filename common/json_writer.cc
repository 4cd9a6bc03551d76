#include "common/json_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/text.h"

namespace tpmdiag {

namespace {

constexpr size_t kFlushAt = 64 * 1024;

// Printable ASCII other than '"' and '\\': copied as it is.
bool plain(unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }

// Whether 8 bytes are all plain(), at once (SWAR: a byte's high bit is set in
// the result where it is below 0x20, is '"', '\\' or 0x7F, or is >= 0x80).
bool plain8(const char* p) {
  constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t x;
  std::memcpy(&x, p, 8);
  auto zero = [&](uint64_t v) { return (v - ones) & ~v & highs; };  // a byte of v is 0
  uint64_t bad = ((x - ones * 0x20) & ~x & highs)                      // below 0x20
                 | zero(x ^ (ones * '"')) | zero(x ^ (ones * '\\')) | zero(x ^ (ones * 0x7F)) | (x & highs);
  return bad == 0;
}

#if defined(__SSE2__)
// The bytes of 16 at p that are not plain(), as a bit mask.
unsigned bad16(const char* p) {
  const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                del = _mm_set1_epi8(0x7F);
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // Signed: bytes >= 0x80 are negative, so "below 0x20" takes them too.
  __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, quote)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, del)));
  return static_cast<unsigned>(_mm_movemask_epi8(bad));
}
#endif

// Whether every byte of s is plain(). Most strings of a report are (keys,
// ids, most log lines), many of them short: the last step reads the last 16
// (or 8) bytes again rather than copying a short tail; nothing past s is read.
bool all_plain(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
#if defined(__SSE2__)
  if (n >= 16) {
    for (size_t i = 0; i + 16 < n; i += 16)
      if (bad16(p + i)) return false;
    return bad16(p + n - 16) == 0;
  }
#endif
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8)
      if (!plain8(p + i)) return false;
    return plain8(p + n - 8);
  }
  for (size_t i = 0; i < n; ++i)
    if (!plain(static_cast<unsigned char>(p[i]))) return false;
  return true;
}

// The length of s's leading run of plain bytes: 16 at a time with SSE2, the
// rest one by one (strings that need escaping only).
size_t plain_prefix(std::string_view s) {
  size_t run = 0;
#if defined(__SSE2__)
  for (; run + 16 <= s.size(); run += 16)
    if (unsigned m = bad16(s.data() + run)) return run + static_cast<size_t>(__builtin_ctz(m));
#endif
  while (run < s.size() && plain(static_cast<unsigned char>(s[run]))) ++run;
  return run;
}

}  // namespace

void JsonWriter::escape(std::string_view s, std::string& out) {
  // Most strings (keys, ids, most log lines) need no escape: appended as they
  // are (resize() would zero the bytes first).
  if (all_plain(s)) {
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return;
  }
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    size_t run = i + plain_prefix(s.substr(i));
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_len(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD for one invalid byte
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
    ++i;
  }
  out.push_back('"');
}

void JsonWriter::grow(size_t n) {
  buf_.resize(std::max({buf_.size() * 2, used_ + n, size_t{4096}}));
}

void JsonWriter::put(std::string_view s) {
  std::memcpy(room(s.size()), s.data(), s.size());
  used_ += s.size();
}

void JsonWriter::put_string(std::string_view s) {
  if (all_plain(s)) {
    char* p = room(s.size() + 2);
    p[0] = '"';
    std::memcpy(p + 1, s.data(), s.size());
    p[s.size() + 1] = '"';
    used_ += s.size() + 2;
    return;
  }
  escaped_.clear();
  escape(s, escaped_);
  put(escaped_);
}

void JsonWriter::flush() {
  if (!used_ || !out_) return;
  out_->write(buf_.data(), static_cast<std::streamsize>(used_));
  used_ = 0;
}

void JsonWriter::done() {
  if (has_items_.empty() || used_ >= kFlushAt) flush();
}

JsonWriter& JsonWriter::operator=(JsonWriter&& o) noexcept {
  if (this == &o) return *this;
  flush();  // what this one held goes out first
  out_ = std::exchange(o.out_, nullptr);
  buf_ = std::move(o.buf_);
  used_ = std::exchange(o.used_, 0);
  escaped_ = std::move(o.escaped_);
  indent_ = o.indent_;
  has_items_ = std::move(o.has_items_);
  after_key_ = o.after_key_;
  return *this;
}

JsonWriter JsonWriter::part(bool after_items) const {
  JsonWriter p(indent_, has_items_);
  if (after_items) p.has_items_.back() = 1;
  return p;
}

void JsonWriter::splice(JsonWriter& p) {
  if (p.has_items_.back()) has_items_.back() = 1;
  if (out_) {
    flush();
    out_->write(p.buf_.data(), static_cast<std::streamsize>(p.used_));
  } else {
    put(std::string_view(p.buf_.data(), p.used_));
  }
  p.used_ = 0;
}

JsonWriter& JsonWriter::items(size_t n, const std::function<void(JsonWriter&, size_t)>& one, size_t per_part) {
  per_part = std::max<size_t>(per_part, 1);
  const size_t parts = (n + per_part - 1) / per_part;
  auto write_part = [&](size_t k, JsonWriter& into) {
    for (size_t i = k * per_part; i < std::min(n, (k + 1) * per_part); ++i) one(into, i);
  };
  if (parts < 2 || has_items_.empty() || std::thread::hardware_concurrency() < 2) {
    for (size_t k = 0; k < parts; ++k) write_part(k, *this);
    return *this;
  }
  // Parts are claimed in order by either thread; this one also hands them on
  // in order, and the other stops claiming while kAhead wait.
  constexpr size_t kAhead = 4;
  const JsonWriter at = part(false);  // this one's place: parts start from it, not from this (being written)
  std::vector<std::optional<JsonWriter>> done(parts);
  std::mutex m;
  std::condition_variable cv;
  size_t claimed = 0, handed = 0;
  std::exception_ptr failed;
  // Buffers of parts handed on, kept for the next parts: a part's buffer
  // grown from empty copied its bytes again at each doubling.
  std::vector<std::string> spare;
  // Claims the next part and writes it, the lock released meanwhile; false
  // once a part failed.
  auto render_next = [&](std::unique_lock<std::mutex>& lock) {
    size_t k = claimed++;
    std::string buf;
    if (!spare.empty()) buf = std::move(spare.back()), spare.pop_back();
    lock.unlock();
    std::optional<JsonWriter> p;
    try {
      p.emplace(at.part(k > 0));
      p->buf_ = std::move(buf);
      write_part(k, *p);
    } catch (...) {
      lock.lock();
      failed = std::current_exception();
      cv.notify_all();
      return false;
    }
    lock.lock();
    done[k] = std::move(p);
    cv.notify_all();
    return true;
  };
  std::thread other;
  try {
    other = std::thread([&] {
      std::unique_lock lock(m);
      for (;;) {
        cv.wait(lock, [&] { return claimed >= parts || claimed < handed + kAhead || failed; });
        if (claimed >= parts || failed || !render_next(lock)) return;
      }
    });
  } catch (const std::system_error&) {  // no thread to be had: this one writes every part
  }
  std::unique_lock lock(m);
  while (handed < parts && !failed) {
    if (done[handed]) {
      JsonWriter p = std::move(*done[handed]);
      done[handed].reset();
      ++handed;
      cv.notify_all();
      lock.unlock();
      splice(p);
      lock.lock();
      spare.push_back(std::move(p.buf_));  // written out: all of it is room
    } else if (claimed < parts) {
      if (!render_next(lock)) break;
    } else {
      cv.wait(lock);
    }
  }
  lock.unlock();
  if (other.joinable()) other.join();
  if (failed) std::rethrow_exception(failed);
  return *this;
}

void JsonWriter::newline() {
  if (indent_ <= 0) return;
  static constexpr char kSpaces[] = "\n                                                                ";
  size_t n = 1 + has_items_.size() * static_cast<size_t>(indent_);
  if (n <= sizeof kSpaces - 1) {
    put(std::string_view(kSpaces, n));
  } else {
    char* p = room(n);
    p[0] = '\n';
    std::memset(p + 1, ' ', n - 1);
    used_ += n;
  }
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_items_.empty()) {
    if (has_items_.back()) put(',');
    has_items_.back() = 1;
    newline();
  }
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  put('{');
  has_items_.push_back(0);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  bool had = has_items_.back();
  has_items_.pop_back();
  if (had) newline();
  put('}');
  if (has_items_.empty() && indent_ > 0) put('\n');
  done();
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  put('[');
  has_items_.push_back(0);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  bool had = has_items_.back();
  has_items_.pop_back();
  if (had) newline();
  put(']');
  done();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  // A plain key with its comma, new line, indent and colon, written at once
  // (a report writes about 14 a fact).
  size_t indent = static_cast<size_t>(std::max(indent_, 0)) * has_items_.size();
  if (!after_key_ && !has_items_.empty() && all_plain(k)) {
    char* p = room(k.size() + indent + 8);
    size_t n = 0;
    if (has_items_.back()) p[n++] = ',';
    has_items_.back() = 1;
    if (indent_ > 0) {
      p[n++] = '\n';
      std::memset(p + n, ' ', indent);
      n += indent;
    }
    p[n++] = '"';
    std::memcpy(p + n, k.data(), k.size());
    n += k.size();
    p[n++] = '"';
    p[n++] = ':';
    if (indent_ > 0) p[n++] = ' ';
    used_ += n;
    after_key_ = true;
    return *this;
  }
  before_value();
  put_string(k);
  put(indent_ > 0 ? ": " : ":");
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view s) {
  before_value();
  put_string(s);
  done();
  return *this;
}

JsonWriter& JsonWriter::number(double d) {
  before_value();
  if (!std::isfinite(d)) {
    put("null");
  } else {
    char b[32];
    int n = std::snprintf(b, sizeof b, "%.4g", d);
    put(std::string_view(b, static_cast<size_t>(std::clamp(n, 0, static_cast<int>(sizeof b) - 1))));
  }
  done();
  return *this;
}

JsonWriter& JsonWriter::integer(int64_t i) {
  before_value();
  char* p = room(24);
  used_ += static_cast<size_t>(std::to_chars(p, p + 24, i).ptr - p);
  done();
  return *this;
}

JsonWriter& JsonWriter::boolean(bool b) {
  before_value();
  put(b ? "true" : "false");
  done();
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  put("null");
  done();
  return *this;
}

}  // namespace tpmdiag
