#include "kb/engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

namespace tpmdiag {

Result<std::unique_ptr<Engine>> Engine::load(const EngineOptions& opts) {
  auto format_files = collect_data_files("parsers/formats/", {});
  if (!format_files) return format_files.error();
  auto formats = load_formats(*format_files);
  if (!formats) return formats.error();

  auto rule_files = collect_data_files("rules/", opts.rules_dirs);
  if (!rule_files) return rule_files.error();
  auto rules = load_rules(*rule_files);
  if (!rules) return rules.error();
  std::set<std::string> facts;
  for (const auto& r : *rules) facts.insert(r.fact);
  auto matcher = Matcher::build(std::move(*rules));
  if (!matcher) return matcher.error();

  auto cause_files = collect_data_files("kb/causes/", opts.kb_dirs);
  if (!cause_files) return cause_files.error();
  auto causes = load_causes(*cause_files, std::vector<std::string>(facts.begin(), facts.end()));
  if (!causes) return causes.error();

  std::unique_ptr<Engine> e(new Engine(std::move(*formats), std::move(*matcher)));
  e->causes_ = std::move(*causes);
  return e;
}

const Cause* Engine::cause(std::string_view id) const {
  for (const auto& c : causes_)
    if (c.id == id) return &c;
  return nullptr;
}

Collector::Collector(const Engine& engine, RunOptions opts) : engine_(engine), opts_(std::move(opts)) {}

namespace {

// Reads [begin, end) of a file with pread on its own descriptor.
class RangeSource : public ByteSource {
 public:
  RangeSource(int fd, std::string name, uint64_t begin, uint64_t end)
      : fd_(fd), name_(std::move(name)), pos_(begin), end_(end) {}
  ~RangeSource() override { ::close(fd_); }
  Result<size_t> read(char* buf, size_t cap) override {
    size_t want = static_cast<size_t>(std::min<uint64_t>(cap, end_ - pos_));
    if (want == 0) return size_t{0};
    for (;;) {
      ssize_t n = ::pread(fd_, buf, want, static_cast<off_t>(pos_));
      if (n >= 0) {
        pos_ += static_cast<uint64_t>(n);
        raw_ += static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) return make_error(name_ + ": read error: " + std::strerror(errno));
    }
  }
  uint64_t raw_bytes() const override { return raw_; }

 private:
  int fd_;
  std::string name_;
  uint64_t pos_, end_, raw_ = 0;
};

// A split point near `at`: just after a newline that is followed by the start
// of a record (not a continuation line), so no multi-line record is cut.
uint64_t split_point(int fd, uint64_t at, uint64_t size) {
  char buf[1 << 16];
  while (at < size) {
    ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(at));
    if (n <= 0) return size;
    for (ssize_t i = 0; i + 1 < n; ++i) {
      char next = buf[i + 1];
      if (buf[i] == '\n' && ((next >= '0' && next <= '9') || next == '<' || next == '{'))
        return at + static_cast<uint64_t>(i) + 1;
    }
    at += static_cast<uint64_t>(n) - 1;
  }
  return size;
}

}  // namespace

bool Collector::scan_split(const StreamInfo& info) {
  unsigned jobs = opts_.jobs ? opts_.jobs : std::max(1u, std::thread::hardware_concurrency());
  if (jobs < 2 || info.name == "-") return false;
  int fd = ::open(info.name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  unsigned char magic[2] = {0, 0};
  bool plain = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
               static_cast<uint64_t>(st.st_size) >= opts_.split_min && ::pread(fd, magic, 2, 0) == 2 &&
               !(magic[0] == 0x1f && magic[1] == 0x8b);
  if (!plain) {
    ::close(fd);
    return false;
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  std::vector<uint64_t> cuts{0};
  for (unsigned j = 1; j < jobs; ++j) cuts.push_back(std::max(cuts.back(), split_point(fd, size * j / jobs, size)));
  cuts.push_back(size);
  ::close(fd);

  struct Part {
    std::vector<Fact> facts;
    InputStats stats;
    Status status = ok_status();
  };
  std::vector<Part> parts(jobs);
  ScanOptions so = opts_.scan;
  if (so.host.empty()) so.host = info.host;
  so.kind_hint = info.kind_hint;
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < jobs; ++j) {
    threads.emplace_back([&, j] {
      int pfd = ::open(info.name.c_str(), O_RDONLY | O_CLOEXEC);
      if (pfd < 0) {
        parts[j].status = make_error(info.name + ": cannot open: " + std::strerror(errno));
        return;
      }
      RangeSource src(pfd, info.name, cuts[j], cuts[j + 1]);
      Scanner scanner(engine_.matcher(), engine_.formats(), so);
      parts[j].status = scanner.scan(src, info.name, static_cast<uint32_t>(info.order), parts[j].facts,
                                     parts[j].stats);
    });
  }
  for (auto& t : threads) t.join();

  // Line numbers of a part count from its start: shift by the lines before it.
  InputReport ir;
  ir.name = info.name;
  uint64_t lines_before = 0;
  for (auto& part : parts) {
    for (auto& f : part.facts) {
      f.line += lines_before;
      facts_.push_back(std::move(f));
    }
    lines_before += part.stats.lines;
    ir.bytes += part.stats.bytes;
    ir.lines += part.stats.lines;
    ir.candidates += part.stats.candidates;
    ir.cut_lines += part.stats.cut_lines;
    if (!part.status && ir.error.empty()) ir.error = part.status.error().message;
  }
  any_read_ = any_read_ || ir.bytes > 0;
  inputs_.push_back(std::move(ir));
  return true;
}

void Collector::scan(const StreamInfo& info, ByteSource& src) {
  if (scan_split(info)) return;
  InputReport ir;
  ir.name = info.name;
  ScanOptions so = opts_.scan;
  if (so.host.empty()) so.host = info.host;
  so.kind_hint = info.kind_hint;
  Scanner scanner(engine_.matcher(), engine_.formats(), so);
  InputStats stats;
  Status s = scanner.scan(src, info.name, static_cast<uint32_t>(info.order), facts_, stats);
  ir.bytes = stats.bytes;
  ir.lines = stats.lines;
  ir.candidates = stats.candidates;
  ir.cut_lines = stats.cut_lines;
  if (!s) ir.error = s.error().message;
  if (stats.bytes > 0 || s) any_read_ = true;
  inputs_.push_back(std::move(ir));
}

void Collector::error(const InputError& e) { inputs_.push_back({e.input, 0, 0, 0, 0, e.message}); }

void Collector::merge(Collector&& other) {
  std::move(other.facts_.begin(), other.facts_.end(), std::back_inserter(facts_));
  std::move(other.inputs_.begin(), other.inputs_.end(), std::back_inserter(inputs_));
  any_read_ = any_read_ || other.any_read_;
}

Report Collector::finish() && {
  Report r = diagnose(std::move(facts_), engine_.causes(), opts_.diagnose);
  r.inputs = std::move(inputs_);
  r.any_input_read = any_read_;
  return r;
}

Report run_inputs(const Engine& engine, const std::vector<std::string>& paths, const RunOptions& opts) {
  Collector c(engine, opts);
  // Inputs keep the order they were named in; within one (a folder, an
  // archive whose members arrive in archive order) streams are put in
  // timeline order: rotations oldest first.
  for (size_t pi = 0; pi < paths.size(); ++pi) {
    TimelineOrder timeline;
    size_t first = c.facts().size();
    walk_inputs(
        {paths[pi]}, opts.limits,
        [&](const StreamInfo& info, ByteSource& src) {
          timeline.add(info);
          c.scan(info, src);
        },
        [&](const InputError& e) { c.error(e); });
    auto rank = timeline.ranks();
    for (size_t i = first; i < c.facts().size(); ++i) {
      auto& f = c.facts()[i];
      auto it = rank.find(f.input_seq);
      uint32_t within = it == rank.end() ? f.input_seq : it->second;
      f.input_seq = static_cast<uint32_t>(pi << 20) + (within & 0xFFFFF);
    }
  }
  return std::move(c).finish();
}

}  // namespace tpmdiag
