#include "cli/help.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iostream>
#include <sstream>

namespace tpmdiag::cli {

namespace {

const char* kIntro = "tpmdiag — why does this ESXi host fail TPM attestation? Read its logs and say.\n";

const char* kExamples = R"(  tpmdiag diagnose /var/run/log/vmkernel.log /var/run/log/hostd.log
  xclip -o | tpmdiag diagnose -          (paste lines from a ticket or KB)
  tpmdiag diagnose --format json bundle-folder/ | jq '.findings[0].cause'
  tpmdiag rc 0x9a2
)";

const char* kExitCodes = R"(  0  no TPM problem found (healthy, resolved, or no TPM lines at all)
  1  a TPM problem was found: it needs attention (unlike grep, on purpose)
  2  usage error, a bad rule/cause file, or an input not read to its end
     (the report of what was read is still printed)
)";

// While set, print_help records here instead of printing (command_doc).
CommandDoc* g_capture = nullptr;

bool all_of(std::string_view s, int (*pred)(int)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

int value_name_char(int c) { return std::isupper(c) || std::isdigit(c) || c == '_' || c == ':' || c == '-'; }
int choice_char(int c) { return std::islower(c) || std::isdigit(c) || c == '|' || c == '-' || c == '_'; }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

// `text` wrapped to lines of at most `width` (words longer stay whole), each
// line after the first indented by `indent` spaces.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::string out, line;
  size_t room = width > indent ? width - indent : 1;
  std::istringstream words(text);
  for (std::string w; words >> w;) {
    if (!line.empty() && line.size() + 1 + w.size() > room) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + w;
  }
  return out + line;
}

// The left column of an option: "-o, --output FILE", "    --max-line SIZE (default 1M)".
std::string left_column(const OptionDoc& o) {
  std::string s = o.short_name.empty() ? "    " : "-" + o.short_name + ", ";
  s += "--" + o.name;
  if (!o.value.empty()) s += " " + o.value;
  if (!o.default_text.empty()) s += " (default " + o.default_text + ")";
  return s;
}

constexpr size_t kHelpWidth = 80, kTextColumn = 30;

}  // namespace

OptionDoc describe(const po::option_description& o) {
  OptionDoc d;
  d.name = o.long_name();
  // "-o" when there is a short name, else the long name without dashes.
  std::string short_form = o.canonical_display_name(po::command_line_style::allow_dash_for_short);
  if (short_form.size() == 2 && short_form[0] == '-') d.short_name = short_form.substr(1);
  d.text = o.description();
  const auto& sem = *o.semantic();
  if (sem.max_tokens() == 0) return d;  // a switch
  // Boost's name() is "arg" or the value_name, then " (=DEFAULT)" when there is one.
  std::string name = sem.name();
  if (size_t p = name.find(" (="); p != std::string::npos && name.back() == ')') {
    d.default_text = name.substr(p + 3, name.size() - p - 4);
    name.resize(p);
  }
  // The help text's leading "NAME: " (or "a|b|c: "); a leading "HOST:PORT "
  // without the colon names the value too but stays part of the sentence.
  std::string first = d.text.substr(0, d.text.find(' '));
  bool colon = first.size() > 1 && first.back() == ':' && d.text.size() > first.size();
  std::string token = colon ? first.substr(0, first.size() - 1) : first;
  bool is_choice = all_of(token, choice_char) && token.find('|') != std::string::npos;
  if ((colon || token.size() < d.text.size() || is_choice) && (all_of(token, value_name_char) || is_choice)) {
    d.value = token;
    if (colon) d.text = d.text.substr(first.size() + 1);
  }
  if (name != "arg") d.value = name;  // an explicit value_name wins
  if (d.value.empty()) d.value = "VALUE";
  if (d.value.find('|') != std::string::npos && all_of(d.value, choice_char)) d.choices = split(d.value, '|');
  return d;
}

CommandDoc describe(const po::options_description& visible) {
  CommandDoc doc;
  // Boost prints the caption, ":\n", then the options; the same options
  // without a caption give the tail, so the caption is what comes before.
  std::ostringstream with, without;
  po::options_description bare;
  for (const auto& o : visible.options()) bare.add(o);
  with << visible;
  without << bare;
  std::string a = with.str(), b = without.str();
  if (a.size() >= b.size() + 2 && a.compare(a.size() - b.size(), b.size(), b) == 0)
    doc.intro = a.substr(0, a.size() - b.size() - 2);
  for (const auto& o : visible.options()) doc.options.push_back(describe(*o));
  return doc;
}

void print_help(const po::options_description& visible) {
  CommandDoc doc = describe(visible);
  if (g_capture) {
    *g_capture = std::move(doc);
    return;
  }
  std::ostream& out = std::cout;
  if (!doc.intro.empty()) out << doc.intro << ":\n";
  for (const auto& o : doc.options) {
    std::string left = "  " + left_column(o);
    if (left.size() + 2 > kTextColumn) left += "\n" + std::string(kTextColumn, ' ');
    else left += std::string(kTextColumn - left.size(), ' ');
    out << left << wrap(o.text, kTextColumn, kHelpWidth) << '\n';
  }
}

CommandDoc command_doc(const Command& c) {
  CommandDoc doc;
  g_capture = &doc;
  std::streambuf* saved = std::cout.rdbuf();
  std::ostringstream sink;  // a command that prints its help another way prints nothing here
  std::cout.rdbuf(sink.rdbuf());
  c.run({"--help"});
  std::cout.rdbuf(saved);
  g_capture = nullptr;
  return doc;
}

void print_general_help(std::ostream& out) {
  out << kIntro << "\nUsage:\n";
  size_t width = 0;
  for (const auto& c : commands())
    width = std::max(width, std::string("tpmdiag ").size() + std::strlen(c.name) + 1 + std::strlen(c.usage));
  for (const auto& c : commands()) {
    std::string left = std::string("tpmdiag ") + c.name + " " + c.usage;
    out << "  " << left << std::string(width + 2 - left.size(), ' ') << c.summary << "\n";
  }
  out << "\nExamples:\n" << kExamples << "\nExit codes (all commands):\n" << kExitCodes
      << "\nRun 'tpmdiag help COMMAND' (or 'tpmdiag COMMAND --help') for a command's\n"
         "inputs, options and output.\n";
}

// ---- the man page -------------------------------------------------------

namespace {

// Text as roff shows it literally: backslashes, hyphens (ASCII in the
// output, so that options can be copied), and a leading '.' or '\''.
std::string roff(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  return out;
}

std::string roff_lines(const std::string& text) {
  std::string out;
  for (const auto& line : split(text, '\n')) {
    if (!line.empty() && (line[0] == '.' || line[0] == '\'')) out += "\\&";
    out += roff(line) + "\n";
  }
  return out;
}

// A command's intro without its last line ("Options"): that heading is the man page's.
std::string intro_body(const std::string& intro) {
  std::string s = intro;
  if (size_t p = s.rfind('\n'); p != std::string::npos && s.substr(p + 1) == "Options") s.resize(p);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

std::string man_page() {
  std::ostringstream m;
  m << ".\\\" Generated by 'tpmdiag help --man' from the commands' own help: edit that, not this.\n"
    << ".TH TPMDIAG 1 \"\" \"tpmdiag " << TPMDIAG_VERSION << "\" \"User Commands\"\n"
    << ".SH NAME\ntpmdiag \\- why does this ESXi host fail TPM attestation? Read its logs and say\n"
    << ".SH SYNOPSIS\n.nf\n";
  for (const auto& c : commands()) m << "\\fBtpmdiag " << c.name << "\\fR " << roff(c.usage) << "\n";
  m << "\\fBtpmdiag\\fR \\fBhelp\\fR [\\fICOMMAND\\fR]\n\\fBtpmdiag\\fR \\fB\\-\\-version\\fR\n.fi\n";
  m << ".SH DESCRIPTION\n";
  for (const auto& c : commands()) m << ".TP\n.B " << c.name << "\n" << roff(c.summary) << "\n";
  m << ".SH COMMANDS\n";
  for (const auto& c : commands()) {
    CommandDoc doc = command_doc(c);
    // Laid out by hand for an 80-column terminal: indented little, not filled.
    m << ".SS " << c.name << "\n.nf\n.in 2n\n" << roff_lines(intro_body(doc.intro)) << ".in\n.fi\n";
    if (doc.options.empty()) continue;
    m << ".PP\nOptions:\n";
    for (const auto& o : doc.options) {
      m << ".TP\n";
      if (!o.short_name.empty()) m << "\\fB\\-" << roff(o.short_name) << "\\fR, ";
      m << "\\fB\\-\\-" << roff(o.name) << "\\fR";
      if (!o.value.empty()) m << " \\fI" << roff(o.value) << "\\fR";
      if (!o.default_text.empty()) m << " (default " << roff(o.default_text) << ")";
      m << "\n" << roff_lines(o.text);
    }
  }
  m << ".SH EXAMPLES\n.nf\n" << roff_lines(kExamples) << ".fi\n"
    << ".SH EXIT STATUS\n.nf\n" << roff_lines(kExitCodes) << ".fi\n"
    << ".SH SEE ALSO\nThe documentation installed with tpmdiag (docs/*.md), e.g. /usr/share/doc/tpmdiag.\n";
  return m.str();
}

// ---- shell completions --------------------------------------------------

namespace {

// What a command's words after the options are: names from its usage
// ("list|show ID" -> list show), and files when it takes paths.
struct Positional {
  std::vector<std::string> words;
  bool files = false;
};

Positional positional_of(const Command& c) {
  Positional p;
  std::istringstream in(c.usage);
  bool after_option = false;
  for (std::string w; in >> w;) {
    std::string t = w;
    t.erase(std::remove_if(t.begin(), t.end(), [](char ch) { return ch == '[' || ch == ']'; }), t.end());
    if (t.starts_with("-")) {
      after_option = true;  // "--db FILE": that FILE is the option's
      continue;
    }
    if (after_option) {
      after_option = false;
      continue;
    }
    if (t.find("PATH") != std::string::npos || t.find("FILE") != std::string::npos ||
        t.find("FOLDER") != std::string::npos)
      p.files = true;
    else if (p.words.empty() && all_of(t, choice_char))
      p.words = split(t, '|');
  }
  return p;
}

// What an option's value is completed with.
enum class ValueKind { none, file, dir, choice };
ValueKind kind_of(const OptionDoc& o) {
  if (!o.choices.empty()) return ValueKind::choice;
  if (o.value == "FILE" || o.value == "LOG" || o.value == "PATH") return ValueKind::file;
  if (o.value == "DIR") return ValueKind::dir;
  return ValueKind::none;
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// A description for a completion menu: the first clause, one line, no quotes
// or brackets that the shells' syntax would take.
std::string short_text(const std::string& text) {
  std::string s = text.substr(0, text.find_first_of(";(\n"));
  for (char& c : s)
    if (c == '\'' || c == '"' || c == '[' || c == ']' || c == '`' || c == '$' || c == '\\') c = ' ';
  while (!s.empty() && (s.back() == ' ' || s.back() == ',' || s.back() == ':')) s.pop_back();
  return s;
}

struct Entry {
  Command cmd;
  CommandDoc doc;
  Positional pos;
};

std::vector<Entry> entries() {
  std::vector<Entry> v;
  for (const auto& c : commands()) v.push_back({c, command_doc(c), positional_of(c)});
  return v;
}

std::string bash_script() {
  auto all = entries();
  std::ostringstream s;
  std::vector<std::string> names{"help"};
  for (const auto& e : all) names.push_back(e.cmd.name);
  s << "# bash completion for tpmdiag (generated by 'tpmdiag completion bash')\n"
    << "_tpmdiag() {\n"
    << "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i\n"
    << "  # --format=<TAB>: bash splits at '=', the option is the word before it\n"
    << "  if [[ $prev == = && $COMP_CWORD -ge 2 ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi\n"
    << "  if [[ $cur == = ]]; then prev=${COMP_WORDS[COMP_CWORD-1]}; cur=; fi\n"
    << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
    << "    case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac\n"
    << "  done\n"
    << "  local opts= words= files=\n"
    << "  case $cmd in\n"
    << "    '') COMPREPLY=($(compgen -W '" << join(names) << " --help --version' -- \"$cur\")); return ;;\n"
    << "    help) words='" << join(std::vector<std::string>(names.begin() + 1, names.end())) << "' ;;\n";
  for (const auto& e : all) {
    s << "    " << e.cmd.name << ")\n";
    std::vector<std::string> opts;
    for (const auto& o : e.doc.options) {
      opts.push_back("--" + o.name);
      if (!o.short_name.empty()) opts.push_back("-" + o.short_name);
    }
    s << "      opts='" << join(opts) << "'\n      case $prev in\n";
    std::vector<std::string> no_completion;  // options whose value is a number, a name...
    for (const auto& o : e.doc.options) {
      if (o.value.empty()) continue;
      std::string pat = "--" + o.name + (o.short_name.empty() ? "" : "|-" + o.short_name);
      switch (kind_of(o)) {
        case ValueKind::choice:
          s << "        " << pat << ") COMPREPLY=($(compgen -W '" << join(o.choices) << "' -- \"$cur\")); return ;;\n";
          break;
        case ValueKind::file: s << "        " << pat << ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"; break;
        case ValueKind::dir: s << "        " << pat << ") COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n"; break;
        case ValueKind::none: no_completion.push_back(pat); break;
      }
    }
    if (!no_completion.empty()) s << "        " << join(no_completion, "|") << ") return ;;\n";
    s << "      esac\n";
    if (!e.pos.words.empty()) s << "      words='" << join(e.pos.words) << "'\n";
    if (e.pos.files) s << "      files=1\n";
    s << "      ;;\n";
  }
  s << "    *) return ;;\n"
    << "  esac\n"
    << "  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\")); return; fi\n"
    << "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
    << "  [[ -n $files ]] && COMPREPLY+=($(compgen -f -- \"$cur\"))\n"
    << "  return 0\n"
    << "}\n"
    << "complete -o filenames -F _tpmdiag tpmdiag\n";
  return s.str();
}

std::string zsh_script() {
  auto all = entries();
  std::ostringstream s;
  s << "#compdef tpmdiag\n# zsh completion for tpmdiag (generated by 'tpmdiag completion zsh')\n"
    << "_tpmdiag() {\n"
    << "  local -a commands\n"
    << "  commands=(\n    'help:show the help of a command'\n";
  for (const auto& e : all) s << "    '" << e.cmd.name << ":" << short_text(e.cmd.summary) << "'\n";
  s << "  )\n"
    << "  if (( CURRENT == 2 )); then\n"
    << "    _describe -t commands 'tpmdiag command' commands\n"
    << "    _arguments '--help[show the help]' '--version[show the version]'\n"
    << "    return\n"
    << "  fi\n"
    << "  local cmd=${words[2]}\n"
    << "  shift words\n"
    << "  (( CURRENT-- ))\n"
    << "  case $cmd in\n"
    << "    help) _describe -t commands 'tpmdiag command' commands ;;\n";
  for (const auto& e : all) {
    s << "    " << e.cmd.name << ")\n      _arguments -s";
    for (const auto& o : e.doc.options) {
      std::string desc = "[" + short_text(o.text) + "]";
      std::string action;
      switch (kind_of(o)) {
        case ValueKind::choice: action = ":" + o.name + ":(" + join(o.choices) + ")"; break;
        case ValueKind::file: action = ":file:_files"; break;
        case ValueKind::dir: action = ":folder:_files -/"; break;
        case ValueKind::none: action = o.value.empty() ? "" : ":" + short_text(o.value) + ": "; break;
      }
      std::string eq = o.value.empty() ? "" : "=";
      if (o.short_name.empty())
        s << " \\\n        '--" << o.name << eq << desc << action << "'";
      else
        s << " \\\n        '(-" << o.short_name << " --" << o.name << ")'{-" << o.short_name << ",--" << o.name << eq
          << "}'" << desc << action << "'";
    }
    if (!e.pos.words.empty()) s << " \\\n        '1:what:(" << join(e.pos.words) << ")'";
    if (e.pos.files) s << " \\\n        '*:path:_files'";
    s << "\n      ;;\n";
  }
  s << "  esac\n}\n"
    << "_tpmdiag \"$@\"\n";
  return s.str();
}

std::string fish_script() {
  auto all = entries();
  std::ostringstream s;
  std::vector<std::string> names{"help"};
  for (const auto& e : all) names.push_back(e.cmd.name);
  s << "# fish completion for tpmdiag (generated by 'tpmdiag completion fish')\n"
    << "complete -c tpmdiag -f\n"
    << "complete -c tpmdiag -n __fish_use_subcommand -l help -d 'show the help'\n"
    << "complete -c tpmdiag -n __fish_use_subcommand -l version -d 'show the version'\n"
    << "complete -c tpmdiag -n __fish_use_subcommand -a help -d 'show the help of a command'\n"
    << "complete -c tpmdiag -n '__fish_seen_subcommand_from help' -a '" << join(names) << "'\n";
  for (const auto& e : all)
    s << "complete -c tpmdiag -n __fish_use_subcommand -a " << e.cmd.name << " -d '" << short_text(e.cmd.summary) << "'\n";
  for (const auto& e : all) {
    std::string when = "-n '__fish_seen_subcommand_from " + std::string(e.cmd.name) + "'";
    for (const auto& o : e.doc.options) {
      s << "complete -c tpmdiag " << when;
      if (!o.short_name.empty()) s << " -s " << o.short_name;
      s << " -l " << o.name;
      switch (kind_of(o)) {
        case ValueKind::choice: s << " -x -a '" << join(o.choices) << "'"; break;
        case ValueKind::file: s << " -r -F"; break;
        case ValueKind::dir: s << " -x -a '(__fish_complete_directories)'"; break;
        case ValueKind::none: if (!o.value.empty()) s << " -x"; break;
      }
      s << " -d '" << short_text(o.text) << "'\n";
    }
    if (!e.pos.words.empty()) s << "complete -c tpmdiag " << when << " -a '" << join(e.pos.words) << "'\n";
    if (e.pos.files) s << "complete -c tpmdiag " << when << " -F\n";
  }
  return s.str();
}

}  // namespace

std::string completion_script(const std::string& shell) {
  if (shell == "bash") return bash_script();
  if (shell == "zsh") return zsh_script();
  if (shell == "fish") return fish_script();
  return "";
}

}  // namespace tpmdiag::cli
