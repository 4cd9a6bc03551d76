#include "parsers/inputs.h"

#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace tpmdiag {

namespace fs = std::filesystem;

std::string host_from_path(std::string_view path) {
  static const RE2 re(R"((?:^|/)esx-([A-Za-z0-9][A-Za-z0-9.-]*?)-\d{4}-\d{2}-\d{2}--\d{2}\.\d{2}-\d+)");
  std::string host;
  if (RE2::PartialMatch(re2::StringPiece(path.data(), path.size()), re, &host)) return host;
  return {};
}

std::string timeline_key(std::string_view path) {
  // "dir/vmkernel.3.gz" -> "dir/vmkernel|0|99999996": higher rotation = older = first.
  static const RE2 rotated(R"((.*)\.(\d+)(?:\.gz)?)");
  static const RE2 current(R"((.*)\.log(?:\.gz)?)");
  std::string stem, num;
  char buf[32];
  if (RE2::FullMatch(re2::StringPiece(path.data(), path.size()), rotated, &stem, &num) && num.size() < 9) {
    std::snprintf(buf, sizeof buf, "|0|%09ld", 999999999L - std::stol(num));
    return stem + buf;
  }
  if (RE2::FullMatch(re2::StringPiece(path.data(), path.size()), current, &stem)) return stem + "|1|";
  return std::string(path) + "|2|";
}

std::vector<InputRef> expand_inputs(const std::vector<std::string>& paths, std::vector<InputError>& errors) {
  std::vector<InputRef> out;
  for (const auto& p : paths) {
    if (p == "-") {
      out.push_back({"-", "-", ""});
      continue;
    }
    std::error_code ec;
    auto st = fs::symlink_status(p, ec);
    if (ec || !fs::exists(st)) {
      errors.push_back({p, p + ": no such file or directory"});
      continue;
    }
    if (fs::is_directory(fs::status(p, ec))) {
      std::vector<std::string> files;
      auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
      if (ec) {
        errors.push_back({p, p + ": cannot read folder: " + ec.message()});
        continue;
      }
      for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) {
          errors.push_back({p, p + ": error while walking the folder: " + ec.message()});
          break;
        }
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) files.push_back(it->path().string());
      }
      std::sort(files.begin(), files.end(),
                [](const std::string& a, const std::string& b) { return timeline_key(a) < timeline_key(b); });
      for (auto& f : files) out.push_back({f, f, host_from_path(f)});
      continue;
    }
    out.push_back({p, p, host_from_path(p)});
  }
  return out;
}

Result<std::unique_ptr<ByteSource>> open_input(const InputRef& in, const SourceLimits& limits) {
  if (in.path == "-") {
    auto src = fd_source(STDIN_FILENO, "-");
    char magic[2];
    size_t got = 0;
    while (got < 2) {
      auto n = src->read(magic + got, 2 - got);
      if (!n) return n.error();
      if (*n == 0) break;
      got += *n;
    }
    auto all = prepend(std::string(magic, got), std::move(src));
    if (got == 2 && static_cast<unsigned char>(magic[0]) == 0x1f && static_cast<unsigned char>(magic[1]) == 0x8b)
      return gunzip(std::move(all), "-", limits);
    return all;
  }
  return open_path(in.path, limits);
}

}  // namespace tpmdiag
