// Text output that fits the terminal (issue 19): the width prose is wrapped
// to, and the pager long output goes through, as git does.
//
//   TermOptions term;
//   add_terminal_options(d, term);                  // --width N, --no-pager
//   if (!check_terminal_options("rc", term)) return 2;
//   Pager pager(term, /*paged=*/true);             // stdout a tty: buffered, then paged
//   render_text(r, pager.stream(), {colour, output_width(term)});
//   pager.finish();
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <iostream>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

namespace tpmdiag::cli {

struct TermOptions {
  int width = 0;  // 0: not given
  bool no_pager = false;
};

void add_terminal_options(boost::program_options::options_description& d, TermOptions& t);
// --width out of range: one line naming it, false.
bool check_terminal_options(const std::string& cmd, const TermOptions& t);

// --width N, else $COLUMNS, else the terminal's own when stdout is one, else 80.
int output_width(const TermOptions& t);

// Word-wraps text to `width` columns, each line starting with `indent`
// spaces; a word longer than a line (a URL, a path) is put on its own line
// and never broken. Columns are counted in UTF-8 characters.
void wrap(std::ostream& out, std::string_view text, size_t indent, size_t width);
// The same with a hanging first line: `first` spaces before it, `indent`
// before the others.
void hang(std::ostream& out, std::string_view text, size_t first, size_t indent, size_t width);
// A reference: its URL whole on one line, never broken; the title beside it
// when both fit, else wrapped under it.
void reference(std::ostream& out, const std::string& url, const std::string& title, size_t indent, size_t width);
// "1 TPM line", "2 TPM lines" (a regular plural).
std::string counted(uint64_t n, std::string_view one);
// "1 other TPM line is", "2 other TPM lines are".
std::string counted_are(uint64_t n, std::string_view one);
// Display width of UTF-8 text (characters; no wide ones in our texts).
size_t text_columns(std::string_view s);

// Where text output goes. When stdout is a terminal (and --no-pager is not
// given) the output is kept, then shown through $TPMDIAG_PAGER, $PAGER or
// `less -FRX` if it is longer than the screen; otherwise it is written to
// stdout as it comes. A pager that cannot be started (not found) falls back
// to stdout, with one warning line if the user named it. An empty pager or
// `cat` means none.
class Pager {
 public:
  Pager(const TermOptions& t, bool paged);
  std::ostream& stream() { return buffered_ ? static_cast<std::ostream&>(buf_) : std::cout; }
  // Shows what was kept; call once, at the end.
  void finish();

 private:
  bool buffered_;
  std::ostringstream buf_;
};

}  // namespace tpmdiag::cli
