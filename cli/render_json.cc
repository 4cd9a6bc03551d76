#include <cmath>
#include <map>

#include "cli/render.h"
#include "kb/timeline.h"
#include "parsers/timestamp.h"

namespace tpmdiag::cli {

namespace {

double round2(double d) { return std::round(d * 100.0) / 100.0; }

void write_condition(JsonWriter& w, const Condition& c) {
  w.begin_object();
  if (!c.all.empty()) {
    w.key("all").begin_array();
    for (const auto& s : c.all) write_condition(w, s);
    w.end_array();
  } else {
    w.key("fact").string(c.fact);
    if (!c.where.empty()) {
      w.key("where").begin_object();
      for (const auto& [k, vs] : c.where) {
        w.key(k).begin_array();
        for (const auto& v : vs) w.string(v);
        w.end_array();
      }
      w.end_object();
    }
  }
  w.key("weight").number(c.weight);
  w.end_object();
}

void write_conditions(JsonWriter& w, const char* key, const std::vector<Condition>& cs) {
  w.key(key).begin_array();
  for (const auto& c : cs) write_condition(w, c);
  w.end_array();
}

void write_references(JsonWriter& w, const Cause& c) {
  w.key("references").begin_array();
  for (const auto& r : c.references) {
    w.begin_object().key("url").string(r.url);
    if (!r.title.empty()) w.key("title").string(r.title);
    if (!r.note.empty()) w.key("note").string(r.note);
    w.end_object();
  }
  w.end_array();
  w.key("vendor_notes").begin_array();
  for (const auto& v : c.vendor_notes) {
    w.begin_object().key("vendor").string(v.vendor).key("note").string(v.note);
    if (!v.source.empty()) w.key("source").string(v.source);
    w.end_object();
  }
  w.end_array();
}

}  // namespace

void write_fact(JsonWriter& w, const Fact& f) {
  w.begin_object();
  w.key("input").string(f.input);
  w.key("line").integer(static_cast<int64_t>(f.line));
  w.key("text").string(f.text);
  w.key("rule").string(f.rule->id);
  w.key("fact").string(f.rule->fact);
  w.key("role").string(role_name(f.rule->role));
  w.key("kind").string(kind_name(f.kind));
  if (f.ts_ms) w.key("timestamp").string(iso8601_text(*f.ts_ms).view());
  else w.key("timestamp").null();
  w.key("repeats").integer(static_cast<int64_t>(f.repeats));
  if (f.repeats) w.key("last_line").integer(static_cast<int64_t>(f.last_line));
  else w.key("last_line").null();
  if (f.repeats && f.last_ts_ms) w.key("last_timestamp").string(iso8601_text(*f.last_ts_ms).view());
  else w.key("last_timestamp").null();
  w.key("meaning").string(f.rule->meaning);
  w.key("fields").begin_object();
  for (const auto& [k, v] : f.fields) w.key(k).string(v);
  w.end_object();
  if (f.rc) {
    w.key("rc").begin_object();
    w.key("code").string(f.field("rc"));
    w.key("name").string(f.rc->name);
    w.key("kind").string(f.rc->kind);
    w.key("index").integer(f.rc->index);
    w.key("layer").string(f.rc->layer);
    w.key("description").string(f.rc->description);
    if (!f.rc->context.empty()) w.key("context").string(f.rc->context);
    w.end_object();
  }
  w.end_object();
}

void write_finding(JsonWriter& w, const Finding& f) {
  const Cause& c = *f.cause;
  w.key("cause").string(c.id);
  w.key("title").string(c.title);
  w.key("confidence").number(round2(f.confidence));
  w.key("host").string(f.host);
  w.key("boot").integer(f.boot);
  w.key("status").string(name(f.status));
  if (f.resolved_in) w.key("resolved_in_boot").integer(f.resolved_in);
  w.key("resolved_by").begin_array();
  for (const Fact* e : f.resolved_by) write_fact(w, *e);
  w.end_array();
  w.key("uncertain").boolean(f.status == FindingStatus::problem && uncertain(f));
  w.key("ambiguous").boolean(f.ambiguous);
  w.key("alternatives").begin_array();
  for (const auto& a : f.alternatives) w.string(a);
  w.end_array();
  w.key("summary").string(c.summary);
  w.key("meaning").string(c.meaning);
  w.key("check").string(c.check);
  w.key("evidence").begin_array();
  for (const Fact* e : f.evidence) write_fact(w, *e);
  w.end_array();
  w.key("fix").begin_array();
  for (const auto& s : f.fix) w.string(s);
  w.end_array();
  write_references(w, c);
  w.key("inference").begin_array();
  for (const auto& s : c.inference) w.string(s);
  w.end_array();
}

void write_cause(JsonWriter& w, const Cause& c, bool with_evidence_model) {
  w.begin_object();
  w.key("id").string(c.id);
  w.key("title").string(c.title);
  w.key("summary").string(c.summary);
  w.key("meaning").string(c.meaning);
  w.key("check").string(c.check);
  w.key("fix").begin_array();
  for (const auto& s : c.fix) w.string(s.otherwise.empty() ? s.text : s.otherwise);
  w.end_array();
  write_references(w, c);
  w.key("inference").begin_array();
  for (const auto& s : c.inference) w.string(s);
  w.end_array();
  if (with_evidence_model) {
    w.key("evidence").begin_object();
    w.key("prior").number(c.prior);
    write_conditions(w, "trigger", c.trigger);
    write_conditions(w, "support", c.support);
    write_conditions(w, "contradict", c.contradict);
    w.end_object();
    write_conditions(w, "resolved_by", c.resolved_by);
  }
  w.end_object();
}

void render_json(const Report& r, std::ostream& out, bool pretty, bool redacted, const FilterNote* filtered) {
  JsonWriter w(out, pretty ? 2 : 0);
  w.begin_object();
  w.key("schema_version").integer(kSchemaVersion);
  w.key("tool").begin_object().key("name").string("tpmdiag").key("version").string(TPMDIAG_VERSION).end_object();
  w.key("verdict").string(name(r.verdict));
  w.key("incomplete").boolean(r.incomplete());
  w.key("redacted").boolean(redacted);
  if (filtered && filtered->filter.active()) {
    const EventFilter& f = filtered->filter;
    w.key("filter").begin_object();
    if (f.since_ms) w.key("since").string(iso8601_text(*f.since_ms).view()); else w.key("since").null();
    if (f.until_ms) w.key("until").string(iso8601_text(*f.until_ms).view()); else w.key("until").null();
    if (f.host_glob.empty()) w.key("host").null(); else w.key("host").string(f.host_glob);
    w.key("left_out").integer(static_cast<int64_t>(filtered->counts.dropped));
    w.key("untimed_kept").integer(static_cast<int64_t>(filtered->counts.untimed_kept));
    w.end_object();
  }
  w.key("hosts").begin_array();
  auto view = timeline_view(r);  // the same order as r.hosts
  for (size_t hi = 0; hi < r.hosts.size(); ++hi) {
    const auto& h = r.hosts[hi];
    w.begin_object();
    w.key("host").string(h.host);
    w.key("verdict").string(name(h.verdict));
    w.key("bundle").begin_object();
    for (const auto& [k, v] : h.bundle) w.key(k).string(v);
    w.end_object();
    w.key("boots").begin_array();
    w.items(h.boots.size(), [&](JsonWriter& w, size_t bi) {
      const auto& b = h.boots[bi];
      w.begin_object();
      w.key("boot").integer(b.index);
      if (b.first_ts) w.key("first").string(iso8601_text(*b.first_ts).view()); else w.key("first").null();
      if (b.last_ts) w.key("last").string(iso8601_text(*b.last_ts).view()); else w.key("last").null();
      w.key("verdict").string(name(b.verdict));
      w.key("tpm_lines").integer(static_cast<int64_t>(line_count(b.facts)));
      w.key("timeline").begin_array();
      for (const auto& l : view[hi].boots[bi].lines) {
        w.begin_object();
        w.key("input").string(l.fact->input);
        w.key("line").integer(static_cast<int64_t>(l.fact->line));
        if (l.fact->ts_ms) w.key("timestamp").string(iso8601_text(*l.fact->ts_ms).view()); else w.key("timestamp").null();
        w.key("lane").string(l.lane);
        w.key("marker").string(marker_name(l.marker));
        w.key("top_evidence").boolean(l.top_evidence);
        w.key("proof").boolean(l.proof);
        w.end_object();
      }
      w.end_array();
      w.end_object();
    }, 64);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key("findings").begin_array();
  for (const auto& f : r.findings) {
    w.begin_object();
    write_finding(w, f);
    w.end_object();
  }
  w.end_array();
  w.key("context").begin_array();
  w.items(r.context.size(), [&](JsonWriter& w, size_t i) { write_fact(w, *r.context[i]); }, 1024);
  w.end_array();
  w.key("skipped").begin_array();
  for (const auto& s : r.skipped) w.string(s);
  w.end_array();
  w.key("unexplained").begin_array();
  for (const Fact* f : r.unexplained) {
    w.begin_object();
    w.key("input").string(f->input);
    w.key("line").integer(static_cast<int64_t>(f->line));
    w.key("text").string(f->text);
    w.end_object();
  }
  w.end_array();
  w.key("inputs").begin_array();
  for (const auto& in : r.inputs) {
    w.begin_object();
    w.key("name").string(in.name);
    w.key("bytes").integer(static_cast<int64_t>(in.bytes));
    w.key("lines").integer(static_cast<int64_t>(in.lines));
    w.key("candidates").integer(static_cast<int64_t>(in.candidates));
    w.key("cut_lines").integer(static_cast<int64_t>(in.cut_lines));
    w.key("repeated_facts").integer(static_cast<int64_t>(in.repeated_facts));
    w.key("dropped_facts").integer(static_cast<int64_t>(in.dropped_facts));
    w.key("incomplete").boolean(!in.error.empty());
    if (in.error.empty()) w.key("error").null(); else w.key("error").string(in.error);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  if (!pretty) out << '\n';
}

void write_finding_record(std::ostream& out, const Finding& f, int rank, const std::string& time) {
  JsonWriter w(out);
  w.begin_object();
  w.key("type").string("finding");
  w.key("rank").integer(rank);
  write_finding(w, f);
  w.key("time").string(time);
  w.end_object();
  out << '\n';
}

void render_jsonl(const Report& r, std::ostream& out) {
  std::string now = report_time();
  std::map<std::string, int> rank;  // per host
  for (const auto& f : r.findings) write_finding_record(out, f, ++rank[f.host], now);
}

}  // namespace tpmdiag::cli
