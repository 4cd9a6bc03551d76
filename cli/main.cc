// tpmdiag: root-cause analysis of TPM / host-attestation failures on ESXi.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "cli/common.h"
#include "common/text.h"

namespace {

const tpmdiag::cli::Command* find(const std::string& name) {
  static const auto all = tpmdiag::cli::commands();
  for (const auto& c : all)
    if (name == c.name) return &c;
  return nullptr;
}

int unknown(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& c : tpmdiag::cli::commands()) names.push_back(c.name);
  std::cerr << "tpmdiag: error: unknown command '" << tpmdiag::visible(name) << "'"
            << tpmdiag::cli::did_you_mean(name, names) << " (see 'tpmdiag --help')\n";
  return 2;
}

// What a command printed must have reached stdout: a full disk or a closed
// file is one line and exit 2, as git does; a closed pipe (`| head`) ends the
// process quietly by SIGPIPE before this.
int finish(int rc) {
  std::cout.flush();
  bool failed = !std::cout.good() || std::fflush(stdout) != 0 || std::ferror(stdout);
  int err = errno;
  if (!failed) return rc;
  if (err == EPIPE) return rc;
  std::cerr << "tpmdiag: error: cannot write the output: " << (err ? std::strerror(err) : "write error") << "\n";
  return 2;
}

int run(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    tpmdiag::cli::print_general_help(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "help")) {
    if (argc < 3) {
      tpmdiag::cli::print_general_help(std::cout);
      return 0;
    }
    // The man page, made from the commands' own help at build time (not listed:
    // 'man tpmdiag' is how users meet it).
    if (!std::strcmp(argv[2], "--man")) {
      std::cout << tpmdiag::cli::man_page();
      return 0;
    }
    // `tpmdiag help diagnose` is `tpmdiag diagnose --help`.
    const auto* c = find(argv[2]);
    return c ? c->run({"--help"}) : unknown(argv[2]);
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V")) {
    std::cout << "tpmdiag " << TPMDIAG_VERSION << "\n";
    return 0;
  }
  tpmdiag::cli::Args args(argv + 2, argv + argc);
  if (const auto* c = find(argv[1])) return c->run(args);
  return unknown(argv[1]);
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  errno = 0;
  return finish(run(argc, argv));
}
