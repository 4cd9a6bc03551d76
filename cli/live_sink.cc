#include "cli/live_sink.h"

#include <fnmatch.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/common.h"
#include "cli/render.h"
#include "cli/term.h"
#include "common/json_writer.h"
#include "parsers/timestamp.h"

namespace tpmdiag::cli {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void end_record(JsonWriter& w, std::ostream& out) {
  w.key("time").string(format_iso8601(now_ms()));
  w.end_object();
  out << '\n';
  out.flush();
}

}  // namespace

void JsonLinesSink::finding(const Finding& f, int rank) {
  write_finding_record(out_, f, rank, format_iso8601(now_ms()));
  out_.flush();
}

void JsonLinesSink::update(const std::string& host, const std::vector<const Finding*>& ranking) {
  JsonWriter w(out_);
  w.begin_object();
  w.key("type").string("update");
  w.key("host").string(host);
  w.key("ranking").begin_array();
  int rank = 0;
  for (const Finding* f : ranking) {
    w.begin_object();
    w.key("rank").integer(++rank);
    w.key("cause").string(f->cause->id);
    w.key("title").string(f->cause->title);
    w.key("confidence").number(std::round(f->confidence * 100) / 100);
    w.key("boot").integer(f->boot);
    w.end_object();
  }
  w.end_array();
  end_record(w, out_);
}

void JsonLinesSink::resolved(const Finding& f) {
  JsonWriter w(out_);
  w.begin_object();
  w.key("type").string("resolved");
  w.key("host").string(f.host);
  w.key("cause").string(f.cause->id);
  w.key("title").string(f.cause->title);
  w.key("boot").integer(f.boot);
  w.key("resolved_in_boot").integer(f.resolved_in);
  w.key("resolved_by").begin_array();
  for (const Fact* e : f.resolved_by) write_fact(w, *e);
  w.end_array();
  end_record(w, out_);
}

void JsonLinesSink::error(const std::string& message) {
  JsonWriter w(out_);
  w.begin_object();
  w.key("type").string("error");
  w.key("message").string(message);
  end_record(w, out_);
}

void JsonLinesSink::stats(const live::Stats& s) {
  auto n = [](uint64_t v) { return static_cast<int64_t>(v); };
  JsonWriter w(out_);
  w.begin_object();
  w.key("type").string("stats");
  w.key("mode").string(s.mode);
  w.key("final").boolean(s.final);
  w.key("time").string(format_iso8601(now_ms()));
  w.key("uptime_s").number(std::round(s.uptime_s * 1000) / 1000);
  w.key("interval_s").number(std::round(s.interval_s * 1000) / 1000);
  w.key("lines_per_s").integer(s.lines_per_s);
  w.key("messages").integer(n(s.messages));
  w.key("bytes").integer(n(s.bytes));
  w.key("hosts").integer(n(s.hosts));
  w.key("facts").integer(n(s.facts));
  w.key("facts_total").integer(n(s.facts_total));
  w.key("facts_dropped").integer(n(s.facts_dropped));
  w.key("findings").integer(n(s.findings));
  w.key("resolved").integer(n(s.resolved));
  w.key("open_problems").integer(n(s.open_problems));
  w.key("errors").integer(n(s.errors));
  w.key("drops").integer(n(s.drops()));
  w.key("drop_detail").begin_object();
  w.key("udp_kernel").integer(n(s.udp_kernel));
  w.key("partial_frames").integer(n(s.partial_frames));
  w.key("refused_connections").integer(n(s.refused_messages));
  w.key("shutdown_unprocessed").integer(n(s.shutdown_unprocessed));
  w.key("shutdown_unread_datagrams").integer(n(s.shutdown_unread_datagrams));
  w.key("shutdown_unread_frames").integer(n(s.shutdown_unread_frames));
  w.key("shutdown_unread_bytes").integer(n(s.shutdown_unread_bytes));
  w.end_object();
  w.key("unsettled_hosts").integer(n(s.unsettled_hosts));
  w.key("cut").integer(n(s.cut));
  w.key("evictions").begin_object();
  w.key("hosts").integer(n(s.evicted_hosts));
  w.key("facts").integer(n(s.evicted_facts));
  w.key("hosts_settled_early").integer(n(s.evicted_settled_early));
  w.end_object();
  w.key("connections").begin_object();
  w.key("open").integer(n(s.conn_open));
  w.key("total").integer(n(s.conn_total));
  w.key("rejected").integer(n(s.conn_rejected));
  w.key("max").integer(n(s.conn_max));
  w.key("idle_timeouts").integer(n(s.idle_timeouts));
  w.end_object();
  w.key("framing").begin_object();
  w.key("octet_counted").integer(n(s.octet_frames));
  w.key("lf").integer(n(s.lf_frames));
  w.end_object();
  w.end_object();
  out_ << '\n';
  out_.flush();
}

namespace {

std::string paint(bool on, const char* code, const std::string& s) {
  return on ? std::string("\x1b[") + code + "m" + s + "\x1b[0m" : s;
}

// The log's time of a line, else now.
std::string time_of(const Fact* f) {
  if (f && f->ts_ms) return format_iso8601(f->last_ts_ms.value_or(*f->ts_ms));
  return format_iso8601(now_ms());
}

// "hostd.log:11": the input's last path component (a bundle member's too).
std::string place(const Fact* f) {
  if (!f) return "-";
  size_t cut = f->input.find_last_of("/!");
  std::string name = cut == std::string::npos ? f->input : f->input.substr(cut + 1);
  return (name == "-" ? "stdin" : visible(name)) + ":" + std::to_string(f->line);
}

std::string conf(double c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", c);
  return buf;
}

std::string host_or_none(const std::string& h) { return h.empty() ? "(no host)" : visible(h); }

}  // namespace

void TextLinesSink::line(const std::string& time, const std::string& host, const char* verdict, const char* code,
                         const std::string& rest) {
  std::string v(verdict);
  v.resize(std::max<size_t>(v.size(), 8), ' ');
  out_ << paint(color_, "2", time) << "  " << paint(color_, "1", host) << "  " << paint(color_, code, v) << "  " << rest
       << '\n';
  out_.flush();
}

void TextLinesSink::finding(const Finding& f, int rank) {
  const Fact* last = f.evidence.empty() ? nullptr : f.evidence.back();
  // Found in its boot: a problem there, even when a later boot already shows
  // it fixed (the resolved line follows).
  std::string rest = f.cause->id + "  " + conf(f.confidence) + "  " + place(last) + "  (boot " + std::to_string(f.boot);
  if (rank > 1) rest += ", cause " + std::to_string(rank) + " of the host";
  line(time_of(last), host_or_none(f.host), "PROBLEM", "1;31", rest + ")");
}

void TextLinesSink::update(const std::string& host, const std::vector<const Finding*>& ranking) {
  if (ranking.empty()) return;
  const Finding& top = *ranking.front();
  std::string rest = top.cause->id + "  " + conf(top.confidence) + "  now the likeliest";
  if (ranking.size() > 1) rest += ", then " + ranking[1]->cause->id + " " + conf(ranking[1]->confidence);
  line(format_iso8601(now_ms()), host_or_none(host), "RANKING", "1", rest);
}

void TextLinesSink::resolved(const Finding& f) {
  const Fact* proof = f.resolved_by.empty() ? nullptr : f.resolved_by.back();
  line(time_of(proof), host_or_none(f.host), "RESOLVED", "1;32",
       f.cause->id + "  " + conf(f.confidence) + "  " + place(proof) + "  (fixed in boot " +
           std::to_string(f.resolved_in) + ")");
}

void TextLinesSink::error(const std::string& message) {
  out_ << paint(color_, "2", format_iso8601(now_ms())) << "  " << paint(color_, "31", "error: " + visible(message))
       << '\n';
  out_.flush();
}

void TextLinesSink::stats(const live::Stats& s) {
  if (!s.final) return;
  std::string t = counted(s.messages, "line") + ", " + counted(s.hosts, "host") + ", " +
                  counted(s.findings, "finding") + ", " + std::to_string(s.resolved) + " resolved, " +
                  std::to_string(s.open_problems) + " open; " + std::to_string(s.drops()) + " dropped, " +
                  counted(s.errors, "error");
  out_ << paint(color_, "2", format_iso8601(now_ms()) + "  end: " + t) << '\n';
  out_.flush();
}

bool HostFilterSink::match(const std::string& host) const { return fnmatch(glob_.c_str(), host.c_str(), 0) == 0; }

void add_live_output_options(boost::program_options::options_description& d, LiveOutput& o) {
  namespace po = boost::program_options;
  d.add_options()
      ("format", po::value(&o.format),
       "text|jsonl: one line per event for people, or JSON Lines (default: text on a terminal, else jsonl)")
      ("color", po::value(&o.color)->default_value("auto"),
       "auto|always|never: colour text output (auto: only on a terminal, never if NO_COLOR is set)")
      ("host", po::value(&o.host_glob), "GLOB: only the events of hosts matching GLOB (shell pattern: esx0*)");
}

void LiveOutput::open() {
  if (format.empty()) format = isatty(STDOUT_FILENO) ? "text" : "jsonl";
  if (format == "text") base_ = std::make_unique<TextLinesSink>(std::cout, want_color(color));
  else base_ = std::make_unique<JsonLinesSink>(std::cout);
  if (!host_glob.empty()) filter_ = std::make_unique<HostFilterSink>(*base_, host_glob);
}

live::Sink& LiveOutput::sink() { return filter_ ? *filter_ : *base_; }

int exit_after_stop(int code, const live::IngestCounters& c) {
  if (!c.stopping()) return code;
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(code);
}

StopWatchdog::StopWatchdog(std::string command, const live::IngestCounters& c)
    : command_(std::move(command)), c_(c) {
  t_ = std::thread([this] {
    std::unique_lock<std::mutex> lk(mu_);
    // Looks 4 times a second until a stop (a signal handler cannot notify), then closely.
    while (!cv_.wait_for(lk, std::chrono::milliseconds(c_.stopping() ? 20 : 250), [&] { return done_; })) {
      if (!c_.stopping() || std::chrono::steady_clock::now() < c_.deadline() + std::chrono::milliseconds(900)) continue;
      std::string m = "tpmdiag " + command_ +
                      ": error: the final stats record could not be written within 0.9 s of the drain time "
                      "(is stdout being read?); exiting without it\n";
      ssize_t r = ::write(STDERR_FILENO, m.data(), m.size());
      (void)r;
      std::_Exit(2);
    }
  });
}

StopWatchdog::~StopWatchdog() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    done_ = true;
  }
  cv_.notify_all();
  t_.join();
}

}  // namespace tpmdiag::cli
