// The vm-support bundle layout, known in this one place: which files of a
// bundle (an extracted folder or an archive's members) hold logs, which hold
// command outputs, which are never text; the host a bundle's name gives; the
// order rotated logs were written in.
//
//   classify_member("esx-h1-2024-01-01--10.00-123/var/run/log/vmkernel.0.gz", size, limits)
//       == MemberRole::scan
//   classify_member("esx-h1-.../commands/esxcli_hardware-trustedboot-get.txt", ...)
//       == MemberRole::command                        // read with kind_hint = esxcli
//   host_from_path("/srv/esx-h1.example.com-2024-01-01--10.00-123.tgz") == "h1.example.com"
//   timeline_key("vmkernel.3.gz") < timeline_key("vmkernel.0.gz") < timeline_key("vmkernel.log")
//
// Which files are scanned (files named explicitly are always scanned):
//   - under a `var/run/log/` or `var/log/` folder: every file (current and
//     rotated logs, `vmkernel.log`, `hostd.3.gz`, `vpxd/vpxd-12.log.gz`, ...);
//   - `commands/*.txt` (esxcli and other command outputs) up to
//     max_text_member bytes;
//   - elsewhere: names that look like logs or text (`*.log`, `*.log.N`,
//     `*.N.gz`, `*.log.gz`, `*.txt`, `*.out`, names without a dot, and those
//     compressed: `syslog.gz`, `messages-20240101.gz`), text other than logs
//     up to max_text_member bytes, and archives by name (`.tgz .tar .tar.gz
//     .zip .tar.bz2 .tar.xz .tar.zst`), except under `vmfs/` (VM logs and
//     datastore listings of a bundle);
//   - never: core dumps and binaries (`var/core/`, `*zdump*`, `*.core`,
//     `*.dmp`, `*.bin`, images, disks).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parsers/source.h"

namespace tpmdiag {

// `path` is the member path, or a file's path below (and including) the
// walked folder.
enum class MemberRole { skip, scan, command };
MemberRole classify_member(std::string_view path, uint64_t size, const SourceLimits& limits);

// Whether a file name (lower case) names an archive: .tgz .tar .tar.gz .zip ...
bool is_archive_name(std::string_view base);

// Whether a folder is an extracted bundle (has commands/, var/run/log/ or var/log/).
bool is_bundle_folder(const std::string& dir);

// Host name from a vm-support style path component `esx-HOST-YYYY-MM-DD--HH.MM-PID`
// (after the start, a '/' or an archive's '!'); empty when there is none.
std::string host_from_path(std::string_view path);

// Sort key that puts rotated logs oldest first, and a bundle's command
// outputs (commands/*.txt, written when the bundle was made) after its logs.
std::string timeline_key(std::string_view path);

}  // namespace tpmdiag
