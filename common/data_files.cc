#include "common/data_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/embedded.h"

namespace tpmdiag {

Result<std::vector<DataFile>> collect_data_files(std::string_view prefix,
                                                 const std::vector<std::string>& extra_dirs) {
  std::vector<DataFile> out;
  for (const auto& f : embedded_files())
    if (f.path.substr(0, prefix.size()) == prefix && f.path.find('/', prefix.size()) == std::string_view::npos &&
        f.path.size() > 5 && f.path.substr(f.path.size() - 5) == ".json")
      out.push_back({std::string(f.path), std::string(f.data)});
  namespace fs = std::filesystem;
  for (const auto& dir : extra_dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return make_error(dir + ": not a directory");
    std::vector<fs::path> paths;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      if (it->path().extension() == ".json") paths.push_back(it->path());
    if (ec) return make_error(dir + ": " + ec.message());
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      std::ifstream in(p, std::ios::binary);
      if (!in) return make_error(p.string() + ": cannot read");
      std::ostringstream ss;
      ss << in.rdbuf();
      out.push_back({p.string(), ss.str()});
    }
  }
  return out;
}

}  // namespace tpmdiag
