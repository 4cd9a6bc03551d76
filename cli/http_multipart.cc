#include "cli/http_multipart.h"

#include <algorithm>
#include <functional>

#include "common/text.h"

namespace tpmdiag::cli {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The parameter `key` of a header value such as
// `form-data; name="file"; filename="hostd.log"` (RFC 9110 5.6.6): a token
// or a quoted string, with its backslash escapes undone.
std::optional<std::string> param(std::string_view value, std::string_view key) {
  size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    size_t eq = value.find_first_of("=;", i);
    std::string_view name = trim(value.substr(i, eq == std::string_view::npos ? std::string_view::npos : eq - i));
    if (eq == std::string_view::npos || value[eq] == ';') {
      i = eq;
      continue;
    }
    i = eq + 1;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    std::string v;
    if (i < value.size() && value[i] == '"') {
      for (++i; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        v += value[i];
      }
      i = value.find(';', i);
    } else {
      size_t end = value.find(';', i);
      v = std::string(trim(value.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i)));
      i = end;
    }
    if (iequals(name, key)) return v;
  }
  return std::nullopt;
}

}  // namespace

bool is_multipart(std::string_view content_type) {
  auto semi = content_type.find(';');
  return iequals(trim(content_type.substr(0, semi)), "multipart/form-data");
}

std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view content_type, std::string_view body,
                                                          std::string& err) {
  auto boundary = param(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 200) {
    err = "multipart/form-data without a valid boundary";
    return std::nullopt;
  }
  const std::string delim = "\r\n--" + *boundary;  // every delimiter but a first one at the very start
  const std::boyer_moore_searcher find_delim(delim.begin(), delim.end());
  auto next_delim = [&](size_t from) -> size_t {
    auto it = std::search(body.begin() + static_cast<std::ptrdiff_t>(from), body.end(), find_delim);
    return it == body.end() ? std::string_view::npos : static_cast<size_t>(it - body.begin());
  };

  size_t pos;
  if (body.substr(0, delim.size() - 2) == std::string_view(delim).substr(2)) pos = delim.size() - 2;
  else if (size_t d = next_delim(0); d != std::string_view::npos) pos = d + delim.size();  // after a preamble
  else {
    err = "malformed multipart/form-data: no boundary line";
    return std::nullopt;
  }
  std::vector<MultipartPart> parts;
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") {
      err = "malformed multipart/form-data: a boundary line does not end with CRLF";
      return std::nullopt;
    }
    pos += 2;
    std::string_view head;  // the part's header lines (none: it starts with a blank line)
    size_t content = pos + 2;
    if (body.substr(pos, 2) != "\r\n") {
      size_t blank = body.find("\r\n\r\n", pos);
      if (blank == std::string_view::npos) {
        err = "malformed multipart/form-data: a part's header does not end";
        return std::nullopt;
      }
      head = body.substr(pos, blank - pos);
      content = blank + 4;
    }
    size_t end = next_delim(content);
    if (end == std::string_view::npos) {
      err = "malformed multipart/form-data: the closing boundary is missing";
      return std::nullopt;
    }
    MultipartPart part;
    part.content = body.substr(content, end - content);
    while (!head.empty()) {
      size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
      if (iequals(name, "Content-Disposition")) {
        part.name = param(value, "name").value_or("");
        part.filename = param(value, "filename").value_or("");
      } else if (iequals(name, "Content-Type")) {
        part.content_type = std::string(value);
      }
    }
    parts.push_back(std::move(part));
    pos = end + delim.size();
  }
}

}  // namespace tpmdiag::cli
