#include "parsers/scanner.h"

#include <algorithm>
#include <cstring>

namespace tpmdiag {

namespace {
constexpr size_t kChunk = 1 << 20;
}

uint64_t count_newlines(const char* p, size_t n) {
  // Plain loop: the compiler vectorises it (this file is built with -O3).
  uint64_t c = 0;
  for (size_t i = 0; i < n; ++i) c += p[i] == '\n';
  return c;
}

Scanner::Scanner(const Matcher& matcher, const FormatSet& formats, ScanOptions opts)
    : matcher_(matcher), formats_(formats), opts_(std::move(opts)), scratch_(matcher) {
  opts_.max_line = std::max<size_t>(opts_.max_line, 256);
  buf_.resize(std::max(kChunk, opts_.max_line) * 2);
}

void Scanner::line(std::string_view text, uint64_t number, const std::vector<int>* atoms,
                   const std::string& input, uint32_t input_seq, std::vector<Fact>& facts) {
  Event ev;
  formats_.parse(text, ev);
  ev.input = input;
  ev.line = number;
  if (ev.host.empty()) ev.host = opts_.host;
  if (ev.kind == SourceKind::unknown) ev.kind = opts_.kind_hint;
  size_t before = facts.size();
  matcher_.match(ev, atoms, scratch_, facts);
  for (size_t i = before; i < facts.size(); ++i) facts[i].input_seq = input_seq;
}

void Scanner::block(const char* data, size_t n, uint64_t first_line, const std::string& input,
                    uint32_t input_seq, std::vector<Fact>& facts, InputStats& stats) {
  if (!opts_.prefilter) {
    uint64_t number = first_line;
    for (size_t pos = 0; pos < n;) {
      const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', n - pos));
      size_t end = nl ? static_cast<size_t>(nl - data) : n;
      ++stats.candidates;
      line(std::string_view(data + pos, end - pos), number++, nullptr, input, input_seq, facts);
      pos = end + 1;
    }
    return;
  }
  size_t counted = 0;
  uint64_t number = first_line;
  matcher_.prefilter(data, n, scratch_, [&](std::string_view text, const std::vector<int>& atoms) {
    size_t at = static_cast<size_t>(text.data() - data);
    number += count_newlines(data + counted, at - counted);
    counted = at;
    ++stats.candidates;
    line(text, number, &atoms, input, input_seq, facts);
  });
}

Status Scanner::scan(ByteSource& src, const std::string& input, uint32_t input_seq,
                     std::vector<Fact>& facts, InputStats& stats) {
  char* buf = buf_.data();
  const size_t cap = buf_.size();
  size_t fill = 0;
  bool skipping = false;  // inside the tail of a cut line
  uint64_t lines_done = 0;
  for (;;) {
    auto got = src.read(buf + fill, std::min(kChunk, cap - fill));
    if (!got) {
      stats.lines = lines_done;
      return got.error();
    }
    bool eof = *got == 0;
    stats.bytes += *got;
    fill += *got;
    size_t start = 0;
    if (skipping) {
      const char* nl = static_cast<const char*>(std::memchr(buf, '\n', fill));
      if (!nl) {
        fill = 0;
        if (eof) {
          ++lines_done;
          break;
        }
        continue;
      }
      start = static_cast<size_t>(nl - buf) + 1;
      skipping = false;
      ++lines_done;
    }
    if (start < fill) {
      const void* last = memrchr(buf + start, '\n', fill - start);
      if (last) {
        size_t end = static_cast<size_t>(static_cast<const char*>(last) - buf) + 1;
        block(buf + start, end - start, lines_done + 1, input, input_seq, facts, stats);
        lines_done += count_newlines(buf + start, end - start);
        start = end;
      }
    }
    size_t rem = fill - start;
    if (eof) {
      if (rem > 0) {
        block(buf + start, rem, lines_done + 1, input, input_seq, facts, stats);
        ++lines_done;
      }
      break;
    }
    if (rem >= opts_.max_line) {
      block(buf + start, opts_.max_line, lines_done + 1, input, input_seq, facts, stats);
      ++stats.cut_lines;
      skipping = true;
      fill = 0;
      continue;
    }
    std::memmove(buf, buf + start, rem);
    fill = rem;
  }
  stats.lines = lines_done;
  return ok_status();
}

}  // namespace tpmdiag
