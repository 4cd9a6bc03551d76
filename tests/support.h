// Helpers the unit tests share: the engine with the embedded data, loaded
// once, and a whole file as text.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "pipeline/engine.h"

namespace tpmdiag::testing {

inline const Engine& shared_engine() {
  static auto e = Engine::load({});
  REQUIRE(e);
  return **e;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tpmdiag::testing
