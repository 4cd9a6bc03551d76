#include "cli/live_sink.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "cli/render.h"
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
