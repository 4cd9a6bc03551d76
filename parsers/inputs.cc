#include "parsers/inputs.h"

#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "parsers/archive.h"
#include "common/text.h"
#include "parsers/bundle_layout.h"

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

struct Walk {
  const SourceLimits& limits;
  const StreamFn& on_stream;
  const ErrorFn& on_error;
  uint64_t& order;
  const SkipFn& on_skip;

  void deliver(const std::string& name, SourceKind hint, ByteSource& src) {
    StreamInfo info{name, host_from_path(name), order++, hint};
    on_stream(info, src);
  }

  // `depth`: archive/compression levels opened around this stream. A
  // compressed archive (.tgz, .tar.xz) is one level, not two: `inflated` says
  // that src is the content of a .gz/.xz opened at this depth, so a tar or zip
  // in it is read at the same level.
  void stream(const std::string& name, std::unique_ptr<ByteSource> src, int depth, SourceKind hint,
              bool inflated = false) {
    auto head = read_head(*src, kSniffBytes);
    if (!head) {
      on_error({name, head.error().message});
      return;
    }
    Container c = sniff_container(*head);
    src = prepend(std::move(*head), std::move(src));
    if (c == Container::none) {
      deliver(name, hint, *src);
      return;
    }
    if (inflated && (c == Container::tar || c == Container::zip)) {
      archive(name, std::move(src), depth, false, hint);
      return;
    }
    if (limits.budget && limits.budget->exhausted()) {
      on_error({name, limits.budget->error(name).message});
      return;
    }
    if (depth >= limits.max_depth) {
      on_error({name, name + ": compressed or archived more than " + std::to_string(limits.max_depth) +
                          (limits.max_depth == 1 ? " level" : " levels") + " deep (--max-depth); not read"});
      return;
    }
    if (c == Container::gzip) {
      stream(name, gunzip(std::move(src), name, limits), depth + 1, hint, true);
      return;
    }
    archive(name, std::move(src), depth + 1, c == Container::compressed, hint);
  }

  void archive(const std::string& name, std::unique_ptr<ByteSource> src, int depth, bool raw, SourceKind hint) {
    auto ar = ArchiveReader::open(name, std::move(src), limits, raw);
    if (!ar) {
      on_error({name, ar.error().message});
      return;
    }
    for (;;) {
      auto m = (*ar)->next();
      if (!m) {
        on_error({name, m.error().message});
        return;
      }
      if (!*m) return;
      const ArchiveMember& mem = **m;
      if (raw) {
        stream(name, (*ar)->data(), depth, hint, true);  // one compressed file: keep its name
      } else {
        if (!mem.regular) continue;
        MemberRole role = classify_member(mem.path, mem.size, limits);
        if (role == MemberRole::skip) {
          if (on_skip) on_skip(name + "!" + one_line(mem.path));
          continue;
        }
        stream(name + "!" + one_line(mem.path)  /* control bytes: evidence lines stay one line */, (*ar)->data(), depth,
               role == MemberRole::command ? SourceKind::esxcli : SourceKind::unknown);
      }
      // A member that failed while read said so through its stream; the
      // archive cannot go on past it. Nor can it once the run's
      // decompression budget is spent (the member that spent it said so).
      if ((*ar)->failed() || (limits.budget && limits.budget->exhausted())) return;
    }
  }
};

}  // namespace

// Walks a folder tree and calls on_file for each regular file. Our own walk
// rather than recursive_directory_iterator: that one either skips an
// unreadable subfolder silently (skip_permission_denied) or ends the whole
// walk at it; here it is one error line naming it and the rest is walked.
// Symlinks are never followed (no loops, nothing outside the tree); devices,
// FIFOs and sockets are skipped. An explicit stack: a hostile deep tree
// cannot overflow the call stack.
void walk_folder(const std::string& top, const FileFn& on_file, const ErrorFn& on_error) {
  std::vector<fs::path> dirs{fs::path(top)};
  while (!dirs.empty()) {
    fs::path dir = std::move(dirs.back());
    dirs.pop_back();
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      on_error({dir.string(), dir.string() + ": cannot read folder: " + ec.message()});
      continue;
    }
    std::vector<fs::path> subdirs;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      fs::file_status st = it->symlink_status(ec);
      if (ec) {  // raced away, or a folder we may list but not enter (r without x)
        on_error({it->path().string(), it->path().string() + ": cannot read: " + ec.message()});
        ec.clear();
        continue;
      }
      if (fs::is_directory(st)) {
        subdirs.push_back(it->path());
      } else if (fs::is_regular_file(st)) {
        uint64_t size = it->file_size(ec);
        on_file(it->path(), ec ? 0 : size);
        ec.clear();
      }
    }
    if (ec) on_error({dir.string(), dir.string() + ": error while reading the folder: " + ec.message()});
    // Sorted, so that errors come in the same order on every run.
    std::sort(subdirs.begin(), subdirs.end(), std::greater<>());
    for (auto& d : subdirs) dirs.push_back(std::move(d));
  }
}

std::unique_ptr<ByteSource> memory_source(std::string data) {
  return std::make_unique<MemorySource>(std::move(data));
}

std::unordered_map<uint64_t, uint32_t> TimelineOrder::ranks() const {
  std::vector<size_t> idx(streams_.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return streams_[a].first < streams_[b].first; });
  std::unordered_map<uint64_t, uint32_t> out;
  for (size_t r = 0; r < idx.size(); ++r) out[streams_[idx[r]].second] = static_cast<uint32_t>(r);
  return out;
}

void walk_source(const std::string& name, std::unique_ptr<ByteSource> src, const SourceLimits& limits,
                 const StreamFn& on_stream, const ErrorFn& on_error, uint64_t* next_order, const SkipFn& on_skip) {
  uint64_t local = 0;
  Walk w{limits, on_stream, on_error, next_order ? *next_order : local, on_skip};
  w.stream(name, std::move(src), 0, SourceKind::unknown);
}

void walk_inputs(const std::vector<std::string>& paths, const SourceLimits& limits,
                 const StreamFn& on_stream, const ErrorFn& on_error, const SkipFn& on_skip) {
  uint64_t order = 0;
  Walk w{limits, on_stream, on_error, order, on_skip};
  auto visit_file = [&](const std::string& path, SourceKind hint) {
    auto src = open_file(path);
    if (!src) {
      on_error({path, src.error().message});
      return;
    }
    w.stream(path, std::move(*src), 0, hint);
  };
  for (const auto& p : paths) {
    if (p == "-") {
      w.stream("-", fd_source(STDIN_FILENO, "-"), 0, SourceKind::unknown);
      continue;
    }
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      on_error({p, p + ": no such file or directory"});
      continue;
    }
    if (!fs::is_directory(st)) {
      // Named explicitly: always read; a bundle's commands/*.txt keeps its kind.
      bool cmd = classify_member(fs::path(p).lexically_normal().generic_string(), 0, limits) == MemberRole::command;
      visit_file(p, cmd ? SourceKind::esxcli : SourceKind::unknown);
      continue;
    }
    // Files are classified by their path below and including the folder's own
    // name (an extracted bundle "esx-h-…/commands/x.txt").
    fs::path root(p);
    fs::path base = root.lexically_normal().parent_path();
    if (root.lexically_normal().filename().empty()) base = base.parent_path();
    std::vector<std::pair<std::string, SourceKind>> files;
    walk_folder(p, [&](const fs::path& path, uint64_t size) {
      std::string rel = path.lexically_normal().lexically_relative(base).generic_string();
      MemberRole role = classify_member(rel.empty() ? path.generic_string() : rel, size, limits);
      if (role == MemberRole::skip) {
        if (on_skip) on_skip(path.string());
        return;
      }
      files.emplace_back(path.string(), role == MemberRole::command ? SourceKind::esxcli : SourceKind::unknown);
    }, on_error);
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return timeline_key(a.first) < timeline_key(b.first); });
    for (const auto& [f, hint] : files) visit_file(f, hint);
  }
}

}  // namespace tpmdiag
