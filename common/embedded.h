// Data files (rules/*.json, kb/**/*.json, parsers/formats/*.json, web assets)
// compiled into the binary at build time, so one binary works anywhere.
// The build generates embedded_data.cc from the source tree (cmake/embed.cmake).
//
//   for (const auto& f : embedded_files())
//     if (f.path.starts_with("rules/")) load(f.path, f.data);
//   auto page = find_embedded("web/index.html");   // empty view if absent
#pragma once

#include <span>
#include <string_view>

namespace tpmdiag {

struct EmbeddedFile {
  std::string_view path;  // relative to the source root, e.g. "kb/causes/tpm_da_lockout.json"
  std::string_view data;
};

std::span<const EmbeddedFile> embedded_files();
std::string_view find_embedded(std::string_view path);

}  // namespace tpmdiag
