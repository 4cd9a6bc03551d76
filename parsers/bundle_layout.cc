#include "parsers/bundle_layout.h"

#include <re2/re2.h>

#include <cstdio>
#include <filesystem>

#include "common/text.h"

namespace tpmdiag {

namespace {

bool binary_name(std::string_view base) {
  if (base.find("zdump") != std::string_view::npos) return true;
  for (const char* ext : {".bin", ".core", ".dmp", ".dump", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf",
                          ".vmdk", ".vmem", ".vmsn", ".vmss", ".nvram", ".iso", ".so", ".o", ".pyc", ".db",
                          ".sqlite", ".pcap", ".pcapng", ".der", ".p12", ".v00", ".vgz", ".b00", ".t00"})
    if (ends_with(base, ext)) return true;
  return false;
}

bool log_like(std::string_view base) {
  // ... and a name without a dot, compressed: syslog.gz, messages-20240101.gz
  static const RE2 re(R"([^/]*\.(log|txt|out)(\.\d+)?(\.gz)?|[^/]*\.\d+(\.gz)?|[^/]*\.log\.gz|[^./]+(\.gz)?)");
  return RE2::FullMatch(re2::StringPiece(base.data(), base.size()), re);
}

}  // namespace

bool is_archive_name(std::string_view base) {
  for (const char* ext : {".tgz", ".tar", ".tar.gz", ".zip", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"})
    if (ends_with(base, ext)) return true;
  return false;
}

MemberRole classify_member(std::string_view path, uint64_t size, const SourceLimits& limits) {
  auto segs = path_segments(path);
  if (segs.empty()) return MemberRole::skip;
  std::string base = ascii_lower(segs.back());
  if (binary_name(base)) return MemberRole::skip;
  size_t ndirs = segs.size() - 1;
  auto dir_is = [&](size_t i, std::string_view name) { return i < ndirs && segs[i] == name; };
  bool in_logs = false, in_core = false, in_vmfs = false;
  for (size_t i = 0; i < ndirs; ++i) {
    if (dir_is(i, "var") && dir_is(i + 1, "run") && dir_is(i + 2, "log")) in_logs = true;
    if (dir_is(i, "var") && dir_is(i + 1, "log")) in_logs = true;
    if (dir_is(i, "var") && dir_is(i + 1, "core")) in_core = true;
    if (segs[i] == "vmfs") in_vmfs = true;
  }
  if (in_core) return MemberRole::skip;
  if (ndirs >= 1 && segs[ndirs - 1] == "commands") {
    if (!ends_with(base, ".txt") || size > limits.max_text_member) return MemberRole::skip;
    return MemberRole::command;
  }
  if (in_logs) return MemberRole::scan;
  if (in_vmfs) return MemberRole::skip;
  if (is_archive_name(base)) return MemberRole::scan;
  // The size cap is for text outputs; a log is read whatever its size.
  bool log = ends_with(base, ".log") || ends_with(base, ".gz");
  if (log_like(base)) return size > limits.max_text_member && !log ? MemberRole::skip : MemberRole::scan;
  return MemberRole::skip;
}

std::string host_from_path(std::string_view path) {
  static const RE2 re(R"((?:^|[/!])esx-([A-Za-z0-9][A-Za-z0-9.-]*?)-\d{4}-\d{2}-\d{2}--\d{2}\.\d{2}-\d+)");
  std::string host;
  if (RE2::PartialMatch(re2::StringPiece(path.data(), path.size()), re, &host)) return host;
  return {};
}

std::string timeline_key(std::string_view path) {
  // Command outputs were written when the bundle was made, after every log
  // line: "b/commands/x.txt" sorts after "b/var/...".
  for (std::string_view seg : {"/commands/", "!commands/"}) {
    if (size_t at = path.find(seg); at != std::string_view::npos)
      return std::string(path.substr(0, at + 1)) + "\x7f" + std::string(path.substr(at + 1)) + "|3|";
  }
  if (path.substr(0, 9) == "commands/") return "\x7f" + std::string(path) + "|3|";
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

bool is_bundle_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path d(dir);
  return fs::is_directory(d / "commands", ec) || fs::is_directory(d / "var" / "run" / "log", ec) ||
         fs::is_directory(d / "var" / "log", ec);
}

}  // namespace tpmdiag
