// multipart/form-data (RFC 7578), as browsers and `curl -F` send it: the
// parts of a request body already read whole (at most --max-body).
//
//   std::string err;
//   auto parts = parse_multipart(req.header("Content-Type"), req.body, err);
//   if (!parts) return bad_request(err);
//   for (const auto& p : *parts) use(p.name, p.filename, p.content);   // views into the body
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tpmdiag::cli {

struct MultipartPart {
  std::string name;          // the form field
  std::string filename;      // "" for a field that is not a file
  std::string content_type;  // "" when not given
  std::string_view content;  // a view into the body
};

// True for "multipart/form-data; boundary=...".
bool is_multipart(std::string_view content_type);

// The parts in order; nullopt (and `err` says why) when the boundary is
// missing or the body is not a complete multipart body.
std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view content_type, std::string_view body,
                                                          std::string& err);

}  // namespace tpmdiag::cli
