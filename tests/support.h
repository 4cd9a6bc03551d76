// Helpers the unit tests share: the engine with the embedded data, loaded
// once, a whole file as text, and .gz and archives built in memory.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kb/report.h"
#include "pipeline/engine.h"

namespace tpmdiag::testing {

inline const Engine& shared_engine() {
  static auto e = Engine::load({});
  REQUIRE(e);
  return **e;
}

// A run's facts as comparable text: where, which rule, what it captured.
inline std::set<std::string> fact_keys(const Report& r) {
  std::set<std::string> keys;
  for (const auto& f : r.facts) {
    std::string k = f.input + ":" + std::to_string(f.line) + " " + f.rule->id;
    for (const auto& [name, value] : f.fields) k += " " + name + "=" + value;
    keys.insert(k);
  }
  return keys;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// gzip of data, as gzip(1) writes it.
inline std::string gz(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

struct Member {
  std::string path, data;
  bool symlink = false;
};

// Builds an archive in memory: format "tar" (gzip-compressed) or "zip".
inline std::string make_archive(const std::vector<Member>& members, const std::string& format = "tgz") {
  std::string out;
  struct archive* a = archive_write_new();
  if (format == "zip") {
    archive_write_set_format_zip(a);
  } else {
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
  }
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* ctx, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.path.c_str());
    archive_entry_set_mtime(e, 1704103200, 0);
    if (m.symlink) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, m.data.c_str());
      archive_entry_set_perm(e, 0777);
      archive_write_header(a, e);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
      archive_write_header(a, e);
      archive_write_data(a, m.data.data(), m.data.size());
    }
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

}  // namespace tpmdiag::testing
