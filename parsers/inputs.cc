#include "parsers/inputs.h"

#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace tpmdiag {

namespace fs = std::filesystem;

namespace {

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string data) : data_(std::move(data)) {}
  Result<size_t> read(char* buf, size_t cap) override {
    size_t n = std::min(cap, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  uint64_t raw_bytes() const override { return pos_; }

 private:
  std::string data_;
  size_t pos_ = 0;
};

Result<std::unique_ptr<ByteSource>> open_stdin(const SourceLimits& limits) {
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

}  // namespace

std::unique_ptr<ByteSource> memory_source(std::string data) {
  return std::make_unique<MemorySource>(std::move(data));
}

std::string host_from_path(std::string_view path) {
  static const RE2 re(R"((?:^|/)esx-([A-Za-z0-9][A-Za-z0-9.-]*?)-\d{4}-\d{2}-\d{2}--\d{2}\.\d{2}-\d+)");
  std::string host;
  if (RE2::PartialMatch(re2::StringPiece(path.data(), path.size()), re, &host)) return host;
  return {};
}

std::string timeline_key(std::string_view path) {
  // "dir/vmkernel.3.gz" -> "dir/vmkernel|0|999999996": higher rotation = older = first.
  static const RE2 rotated(R"((.*)\.(\d+)(?:\.gz)?)");
  static const RE2 current(R"((.*)\.log(?:\.gz)?)");
  std::string stem, num;
  char buf[32];
  re2::StringPiece p(path.data(), path.size());
  if (RE2::FullMatch(p, rotated, &stem, &num) && num.size() < 9) {
    std::snprintf(buf, sizeof buf, "|0|%09ld", 999999999L - std::stol(num));
    return stem + buf;
  }
  if (RE2::FullMatch(p, current, &stem)) return stem + "|1|";
  return std::string(path) + "|2|";
}

void walk_inputs(const std::vector<std::string>& paths, const SourceLimits& limits,
                 const StreamFn& on_stream, const ErrorFn& on_error) {
  uint64_t order = 0;
  auto visit_file = [&](const std::string& path) {
    auto src = open_path(path, limits);
    if (!src) {
      on_error({path, src.error().message});
      return;
    }
    on_stream({path, host_from_path(path), order++}, **src);
  };
  for (const auto& p : paths) {
    if (p == "-") {
      auto src = open_stdin(limits);
      if (!src) on_error({"-", src.error().message});
      else on_stream({"-", "", order++}, **src);
      continue;
    }
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      on_error({p, p + ": no such file or directory"});
      continue;
    }
    if (!fs::is_directory(st)) {
      visit_file(p);
      continue;
    }
    std::vector<std::string> files;
    auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      on_error({p, p + ": cannot read folder: " + ec.message()});
      continue;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        on_error({p, p + ": error while walking the folder: " + ec.message()});
        break;
      }
      if (it->is_regular_file(ec) && !it->is_symlink(ec)) files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end(),
              [](const std::string& a, const std::string& b) { return timeline_key(a) < timeline_key(b); });
    for (const auto& f : files) visit_file(f);
  }
}

}  // namespace tpmdiag
