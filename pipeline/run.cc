#include "pipeline/run.h"

#include "kb/bundle_info.h"
#include "parsers/bundle_layout.h"
#include "parsers/mapped.h"
#include "parsers/source.h"
#include "pipeline/redact.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fnmatch.h>
#include <map>
#include <system_error>
#include <thread>

namespace tpmdiag {

Run::Run(const Engine& engine, RunOptions opts) : engine_(engine), opts_(std::move(opts)) {
  auto& lim = opts_.limits;
  if (!lim.budget) {
    uint64_t total = lim.max_total_decompressed ? lim.max_total_decompressed
                                                : (lim.max_decompressed > UINT64_MAX / 4 ? UINT64_MAX
                                                                                         : 4 * lim.max_decompressed);
    lim.budget = std::make_shared<DecompressionBudget>(total);
  }
  if (opts_.redactor) opts_.scan.host = opts_.redactor->host(opts_.scan.host);
}

Run::~Run() = default;

namespace {

// A split point within `window` bytes after `at`: just after a newline that is
// followed by the start of a record (not a continuation line), so no
// multi-line record is cut; `none` when there is none that near (a huge line:
// the search must not touch, and make resident, the whole of it). What it
// looked at is released: the scan reaches it much later.
size_t split_point(const MappedFile& m, const char* data, size_t at, size_t size, size_t window, size_t none) {
  const size_t start = at, stop = std::min(size, at + window);
  size_t found = none, looked = stop;
  while (at + 1 < stop) {
    const char* nl = static_cast<const char*>(std::memchr(data + at, '\n', stop - at - 1));
    if (!nl) break;
    at = static_cast<size_t>(nl - data);
    char next = data[at + 1];
    if ((next >= '0' && next <= '9') || next == '<' || next == '{') {
      found = at + 1;
      looked = at + 2;
      break;
    }
    ++at;
  }
  m.release_around(data + start, data + looked);
  return found;
}

// Text to choose prefilter keys by: slices from across the file, not only its
// start (a log's first boot lines differ from what fills the rest of it). The
// pages looked at are released, as by split_point().
std::string spread_sample(const MappedFile& m, const char* data, size_t size) {
  constexpr size_t kSlices = 8, kSlice = 64 << 10;
  if (size <= kSlices * kSlice) return std::string(data, size);
  std::string out;
  for (size_t k = 0; k < kSlices; ++k) {
    size_t at = size / kSlices * k;
    size_t look = std::min(size - at, 2 * kSlice);
    const char* nl = k ? static_cast<const char*>(std::memchr(data + at, '\n', std::min(size - at, kSlice))) : data - 1;
    if (nl) {  // else inside a line longer than a slice
      size_t from = static_cast<size_t>(nl - data) + 1;
      size_t to = std::min(size, from + kSlice);
      const void* end = memrchr(data + from, '\n', to - from);
      if (end) out.append(data + from, static_cast<const char*>(end) + 1);
    }
    m.release_around(data + at, data + at + look);
  }
  return out;
}

// One input that runs out of memory (a line of up to --max-line held while
// other jobs hold theirs) is that input's error, not the end of the run.
std::string out_of_memory(const std::string& name) {
  return name + ": out of memory while reading; not read further (each input being read may hold a line of up to "
                "--max-line bytes: lower --max-line or --jobs)";
}

void add_stats(InputReport& ir, const InputStats& st) {
  ir.bytes += st.bytes;
  ir.lines += st.lines;
  ir.candidates += st.candidates;
  ir.cut_lines += st.cut_lines;
  ir.repeated_facts += st.repeated_facts;
  ir.dropped_facts += st.dropped_facts;
  if (st.dropped_needed > 0 && ir.error.empty())
    ir.error = ir.name + ": " + std::to_string(st.dropped_needed) +
               " symptom or proof lines not kept (over " + std::to_string(kNeededFactor) +
               " x --max-facts): the diagnosis may miss a cause; raise --max-facts";
}

}  // namespace

bool Run::scan_file(const StreamInfo& info, ByteSource& src) {
  auto rest = src.file_rest();
  if (!rest) return false;
  auto map = MappedFile::open(rest->fd, info.name);
  if (!map || (*map)->size() < rest->offset + opts_.map_min) return false;
  const char* data = (*map)->data() + rest->offset;
  size_t size = (*map)->size() - static_cast<size_t>(rest->offset);

  // Keys are chosen once, on the start of the first large input (the same
  // whichever thread gets there first).
  (void)engine_.matcher().compile(spread_sample(**map, data, size));
  // Parts many per thread, taken in turn: a thread that ends early waits
  // for the other's last part (with 8 a thread, 64 MiB of a 1 GiB file on
  // two: up to 30 ms; with 32, under 10).
  unsigned jobs = opts_.jobs ? opts_.jobs : std::max(1u, std::thread::hardware_concurrency());
  if (size < opts_.split_min) jobs = 1;
  size_t nparts = jobs == 1 ? 1 : jobs * 32;
  std::vector<size_t> cuts{0};
  for (size_t j = 1; j < nparts; ++j) {
    size_t at = std::max(cuts.back(), size / nparts * j);
    cuts.push_back(at >= size ? size : split_point(**map, data, at, size, 1 << 20, cuts.back()));
  }
  cuts.push_back(size);

  struct Part {
    std::vector<Fact> facts;
    InputStats stats;
  };
  std::vector<Part> parts(nparts);
  ScanOptions so = opts_.scan;
  if (so.host.empty()) so.host = info.host;
  so.kind_hint = info.kind_hint;
  std::atomic<size_t> next{0};
  std::atomic<bool> no_memory{false};
  // Each part is scanned in place in the mapping, and its pages released
  // every 4 MiB as the scan passes them (the resident size stays small). The
  // key search prefetches the bytes ahead of it: without that, reading by
  // range with pread (a copy into a buffer in cache) was faster; with it,
  // the mapping is (no copy: -10 to -15 % of wall on the 1 GiB mixes).
  const MappedFile& m = **map;
  auto scan_parts = [&] {
    Scanner scanner(engine_.matcher(), engine_.formats(), so);
    for (size_t j; (j = next++) < nparts;) {
      const char* released = data + cuts[j];
      scanner.scan_memory(data + cuts[j], cuts[j + 1] - cuts[j], info.name, static_cast<uint32_t>(info.order),
                          parts[j].facts, parts[j].stats, [&](const char* upto) {
                            if (upto - released < (4 << 20)) return;
                            m.release(released, upto);
                            released = upto;
                          });
      m.release(released, data + cuts[j + 1]);
    }
  };
  auto run = [&] {
    try {
      scan_parts();
    } catch (const std::bad_alloc&) {
      no_memory = true;
    }
  };
  std::vector<std::thread> threads;
  try {
    for (unsigned j = 1; j < jobs; ++j) threads.emplace_back(run);
  } catch (const std::system_error&) {  // no more threads to be had: the parts go to those there are
  }
  run();
  for (auto& t : threads) t.join();

  // Line numbers of a part count from its start: shift by the lines before it.
  InputReport ir;
  ir.name = info.name;
  uint64_t lines_before = 0;
  size_t total = facts_.size();
  for (const auto& part : parts) total += part.facts.size();
  facts_.reserve(total);
  for (auto& part : parts) {
    for (auto& f : part.facts) {
      f.line += lines_before;
      if (f.repeats) f.last_line += lines_before;
      facts_.push_back(std::move(f));
    }
    lines_before += part.stats.lines;
    add_stats(ir, part.stats);
  }
  if (m.shrank())
    ir.error = info.name + ": the file shrank while being read; what was past its new end was read as empty";
  if (no_memory) ir.error = out_of_memory(info.name);
  any_read_ = true;
  inputs_.push_back(std::move(ir));
  return true;
}

void Run::scan(const StreamInfo& info, ByteSource& src) {
  if (scan_file(info, src)) return;
  InputReport ir;
  ir.name = info.name;
  ScanOptions so = opts_.scan;
  if (so.host.empty()) so.host = info.host;
  so.kind_hint = info.kind_hint;
  Scanner scanner(engine_.matcher(), engine_.formats(), so);
  InputStats stats;
  Status s = ok_status();
  try {
    s = scanner.scan(src, info.name, static_cast<uint32_t>(info.order), facts_, stats);
  } catch (const std::bad_alloc&) {
    s = make_error(out_of_memory(info.name), ErrorKind::limit);
  }
  add_stats(ir, stats);
  if (!s) ir.error = s.error().message;
  if (stats.bytes > 0 || s) any_read_ = true;
  inputs_.push_back(std::move(ir));
}

void Run::add_error(const InputError& e) {
  InputReport ir;
  ir.name = redacted(e.input);
  ir.error = redacted(e.message, e.input);
  inputs_.push_back(std::move(ir));
}

std::string Run::redacted(const std::string& text, const std::string& path) const {
  if (!opts_.redactor) return text;
  return opts_.redactor->name(text, host_from_path(path.empty() ? text : path));
}

// The stream as the stages after reading see it: redacted (name, host and
// lines), then watched for bundle metadata, then scanned.
void Run::read_stream(const StreamInfo& info, ByteSource& src, BundleInfo* bundle) {
  StreamInfo in = info;
  std::unique_ptr<ByteSource> redacted_src, watched;
  ByteSource* s = &src;
  if (opts_.redactor) {
    in.name = opts_.redactor->name(info.name, info.host);
    in.host = opts_.redactor->host(info.host);
    redacted_src = opts_.redactor->source(src);
    s = redacted_src.get();
  }
  if (first_host_.empty()) first_host_ = in.host;
  if (bundle) {
    watched = bundle->watch(in.name, *s);
    s = watched.get();
  }
  size_t before = inputs_.size();
  scan(in, *s);
  // A read error names the stream as the source below the redaction knew it.
  if (opts_.redactor)
    for (size_t i = before; i < inputs_.size(); ++i) inputs_[i].error = redacted(inputs_[i].error, info.name);
}

// Each host gets what the groups that hold its lines say: a group's bundle
// files when the group is of that host alone, and its own lines' facts
// (tpm_vendor from "Vendor ID: IFX") in any case.
void Run::host_facts(Report& r) const {
  if (group_bundles_.empty()) return;
  std::map<uint32_t, std::map<std::string, std::vector<const Fact*>>> by_group;
  for (const auto& f : r.facts) by_group[f.input_seq >> 20][f.host].push_back(&f);
  std::map<std::string, std::map<std::string, std::string>> found;
  for (uint32_t g = 0; g < group_bundles_.size(); ++g) {
    if (!group_bundles_[g]) continue;
    const BundleInfo& info = *group_bundles_[g];
    auto it = by_group.find(g);
    if (it == by_group.end()) {  // no TPM line: its files speak for the only host, if there is one
      if (r.hosts.size() == 1)
        for (auto& [k, v] : info.fields()) found[r.hosts[0].host][k] = v;
      continue;
    }
    for (const auto& [host, list] : it->second) {
      BundleInfo per = it->second.size() == 1 ? info : BundleInfo(info.spec());
      per.add_facts(list);
      for (auto& [k, v] : per.fields()) found[host][k] = v;
    }
  }
  for (auto& h : r.hosts)
    if (auto it = found.find(h.host); it != found.end()) h.bundle = std::move(it->second);
}

// What the report keeps, swept again with every value the run found: a line
// or name read before the line that showed a value to be a host name.
void Run::redact_again(Report& r) const {
  Redactor& red = *opts_.redactor;
  std::map<std::string, std::string> names;  // inputs repeat across facts
  auto name = [&](std::string& s) {
    auto it = names.find(s);
    if (it == names.end()) it = names.emplace(s, red.again(s)).first;
    s = it->second;
  };
  for (auto& f : r.facts) {
    name(f.input);
    f.text = red.again(f.text);
    for (auto& kv : f.fields) kv.second = red.again(kv.second);
  }
  for (auto& f : r.findings)
    for (auto& step : f.fix) step = red.again(step);
  for (auto& in : r.inputs) {
    name(in.name);
    in.error = red.again(in.error);
  }
  for (auto& s : r.skipped) name(s);
  for (auto& h : r.hosts)
    for (auto& kv : h.bundle) kv.second = red.again(kv.second);
}

void Run::apply_filter() {
  const EventFilter& f = opts_.filter;
  if (!f.active()) return;
  std::map<std::string, int64_t> last_ts;  // per input: the time of its last timed TPM line
  // Redacted hosts are matched by their real names: the user names those.
  std::map<std::string, std::string> real;
  if (opts_.redactor && !f.host_glob.empty())
    for (auto& [token, value] : opts_.redactor->map()) real.emplace(token, value);
  auto host_matches = [&](const std::string& host) {
    auto it = real.find(host);
    return fnmatch(f.host_glob.c_str(), (it == real.end() ? host : it->second).c_str(), 0) == 0;
  };
  std::vector<Fact> kept;
  kept.reserve(facts_.size());
  for (auto& fact : facts_) {
    bool keep = f.host_glob.empty() || host_matches(fact.host);
    if (!keep && fact.host.empty()) filtered_.dropped_unnamed += 1 + fact.repeats;
    if (keep && (f.since_ms || f.until_ms)) {
      std::optional<int64_t> ts = fact.ts_ms;
      if (ts) last_ts[fact.input] = fact.last_ts_ms.value_or(*ts);
      else if (auto it = last_ts.find(fact.input); it != last_ts.end()) ts = it->second;
      if (!ts) filtered_.untimed_kept += 1 + fact.repeats;
      // A line counted with its copies spans its first to its last time.
      int64_t first = ts.value_or(0), last = fact.ts_ms ? fact.last_ts_ms.value_or(first) : first;
      keep = !ts || ((!f.since_ms || last >= *f.since_ms) && (!f.until_ms || first <= *f.until_ms));
    }
    if (keep) kept.push_back(std::move(fact));
    else filtered_.dropped += 1 + fact.repeats;
  }
  facts_ = std::move(kept);
}

Report Run::finish() && {
  apply_filter();
  Report r = diagnose(std::move(facts_), engine_.causes(), opts_.diagnose);
  r.inputs = std::move(inputs_);
  r.skipped = std::move(skipped_);
  r.any_input_read = any_read_;
  host_facts(r);
  if (opts_.redactor) redact_again(r);
  return r;
}

template <typename Walk>
void Run::group(Walk&& walk) {
  TimelineOrder timeline;  // by the names as read: redaction must not reorder streams
  size_t first = facts_.size();
  BundleInfo* bundle = bundle_;
  if (!bundle) {
    auto spec = BundleSpec::builtin();
    group_bundles_.push_back(spec ? std::make_unique<BundleInfo>(**spec) : nullptr);
    bundle = group_bundles_.back().get();
  }
  walk(
      [&](const StreamInfo& info, ByteSource& src) {
        timeline.add(info);
        ++streams_;
        read_stream(info, src, bundle);
      },
      [&](const InputError& e) { add_error(e); },
      [&](const std::string& name) { skipped_.push_back(redacted(name)); });
  auto rank = timeline.ranks();
  uint32_t g = groups_++;
  for (size_t i = first; i < facts_.size(); ++i) {
    auto& f = facts_[i];
    auto it = rank.find(f.input_seq);
    uint32_t within = it == rank.end() ? f.input_seq : it->second;
    f.input_seq = (g << 20) + (within & 0xFFFFF);
  }
}

void Run::add_path(const std::string& path) {
  group([&](const StreamFn& on_stream, const ErrorFn& on_error, const SkipFn& on_skip) {
    walk_inputs({path}, opts_.limits, on_stream, on_error, on_skip);
  });
}

void Run::add_source(const std::string& name, std::unique_ptr<ByteSource> src) {
  group([&](const StreamFn& on_stream, const ErrorFn& on_error, const SkipFn& on_skip) {
    walk_source(name, std::move(src), opts_.limits, on_stream, on_error, nullptr, on_skip);
  });
}

void Run::add_texts(std::vector<std::pair<std::string, std::string>> texts) {
  group([&](const StreamFn& on_stream, const ErrorFn& on_error, const SkipFn& on_skip) {
    uint64_t next = 0;  // numbered across the texts, as the files of one folder
    for (auto& [name, data] : texts) {
      walk_source(name, memory_source(std::move(data)), opts_.limits, on_stream, on_error, &next, on_skip);
      data = {};
    }
  });
}

Report run_inputs(const Engine& engine, const std::vector<std::string>& paths, const RunOptions& opts) {
  Run run(engine, opts);
  for (const auto& p : paths) run.add_path(p);
  return std::move(run).finish();
}

}  // namespace tpmdiag
