#include "cli/term.h"

#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <utility>

namespace tpmdiag::cli {

namespace po = boost::program_options;

void add_terminal_options(po::options_description& d, TermOptions& t) {
  d.add_options()
      ("width", po::value(&t.width),
       "N: wrap text to N columns (default: $COLUMNS, else the terminal's width, else 80)")
      ("no-pager", po::bool_switch(&t.no_pager), "do not page long output on a terminal");
}

bool check_terminal_options(const std::string& cmd, const TermOptions& t) {
  if (t.width == 0 || (t.width >= 20 && t.width <= 10000)) return true;
  std::cerr << "tpmdiag " << cmd << ": error: --width must be 20 to 10000 columns\n";
  return false;
}

int output_width(const TermOptions& t) {
  if (t.width > 0) return t.width;
  if (const char* c = std::getenv("COLUMNS")) {
    char* end = nullptr;
    long n = std::strtol(c, &end, 10);
    if (end != c && *end == '\0' && n >= 20 && n <= 10000) return static_cast<int>(n);
  }
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

std::string counted(uint64_t n, std::string_view one) {
  return std::to_string(n).append(" ").append(one).append(n == 1 ? "" : "s");
}

std::string counted_are(uint64_t n, std::string_view one) { return counted(n, one) + (n == 1 ? " is" : " are"); }

size_t text_columns(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count lead bytes only
  return n;
}

void wrap(std::ostream& out, std::string_view text, size_t indent, size_t width) { hang(out, text, indent, indent, width); }

void hang(std::ostream& out, std::string_view text, size_t first, size_t indent, size_t width) {
  std::string pad(first, ' ');
  std::string line;
  size_t cols = 0;  // of line
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\n' && text[j] != '\t') ++j;
    if (j == i) break;
    std::string_view word = text.substr(i, j - i);
    size_t wc = text_columns(word);
    if (!line.empty() && pad.size() + cols + 1 + wc > width) {
      out << pad << line << '\n';
      pad.assign(indent, ' ');
      line.clear();
      cols = 0;
    }
    if (!line.empty()) {
      line += ' ';
      ++cols;
    }
    line += word;
    cols += wc;
    i = j;
  }
  if (!line.empty()) out << pad << line << '\n';
}

void reference(std::ostream& out, const std::string& url, const std::string& title, size_t indent, size_t width) {
  std::string pad(indent, ' ');
  if (title.empty() || indent + text_columns(url) + 4 + text_columns(title) <= width) {
    out << pad << url << (title.empty() ? "" : "  (" + title + ")") << "\n";
    return;
  }
  out << pad << url << "\n";
  wrap(out, "(" + title + ")", indent + 2, width);
}

namespace {

int screen_rows() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
  return 24;
}

// Whether `name` is an executable in $PATH.
bool in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "";
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    rest = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
  }
  return false;
}

// The pager to run, and whether the user chose it (through the environment).
std::pair<std::string, bool> pager_command() {
  for (const char* var : {"TPMDIAG_PAGER", "PAGER"})
    if (const char* v = std::getenv(var)) return {v, true};  // set but empty: no pager, as git
  // Without less, no pager rather than sh's "less: not found".
  return {in_path("less") ? "less -FRX" : "", false};
}

// Runs `cmd` through sh with `text` on its stdin; false if it could not be
// started (fork failed, or sh said 126/127: not found or not executable).
bool run_pager(const std::string& cmd, const std::string& text) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  // Set here, not in the child: between fork and exec a child of a threaded
  // process may only make async-signal-safe calls, which setenv is not.
  setenv("LESS", "FRX", 0);  // as git: quit if one screen, keep colours, no init
  setenv("LV", "-c", 0);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  // Quitting the pager early closes the pipe: not an error of ours.
  auto old = std::signal(SIGPIPE, SIG_IGN);
  size_t at = 0;
  while (at < text.size()) {
    ssize_t n = write(fds[1], text.data() + at, text.size() - at);
    if (n <= 0) break;
    at += static_cast<size_t>(n);
  }
  close(fds[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::signal(SIGPIPE, old);
  return !(WIFEXITED(status) && (WEXITSTATUS(status) == 127 || WEXITSTATUS(status) == 126));
}

}  // namespace

Pager::Pager(const TermOptions& t, bool paged) : buffered_(paged && !t.no_pager && isatty(STDOUT_FILENO)) {}

void Pager::finish() {
  if (!buffered_) return;
  buffered_ = false;
  std::string text = std::move(buf_).str();
  auto [cmd, chosen] = pager_command();
  long lines = std::count(text.begin(), text.end(), '\n');
  if (lines < screen_rows() || cmd.empty() || cmd == "cat") {
    std::cout << text;
    return;
  }
  std::cout.flush();
  if (run_pager(cmd, text)) return;
  // A pager the user named is worth a word; a system without less is not.
  if (chosen) std::cerr << "tpmdiag: warning: the pager '" << cmd << "' could not be started; writing to the terminal\n";
  std::cout << text;
}

}  // namespace tpmdiag::cli
