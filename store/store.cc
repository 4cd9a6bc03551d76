#include "store/store.h"

#include <simdjson.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <sstream>
#include <tuple>
#include <algorithm>
#include <thread>

#include "common/json_writer.h"
#include "store/pg_conn.h"
#include "store/sqlite_conn.h"

namespace tpmdiag::store {

namespace {

// Version 1: the first schema. Add a new entry for every change; never edit a
// released one (docs/store.md, "Migrations").
const char* kSchemaV1 = R"SQL(
CREATE TABLE scans (
  id             INTEGER PRIMARY KEY,
  started_at     TEXT NOT NULL,
  finished_at    TEXT,
  tool_version   TEXT NOT NULL,
  command        TEXT NOT NULL,
  inputs_total     INTEGER NOT NULL DEFAULT 0,
  inputs_scanned   INTEGER NOT NULL DEFAULT 0,
  inputs_unchanged INTEGER NOT NULL DEFAULT 0,
  inputs_failed    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE inputs (
  id            INTEGER PRIMARY KEY,
  path          TEXT NOT NULL UNIQUE,
  kind          TEXT NOT NULL,
  size          INTEGER NOT NULL,
  mtime_ns      INTEGER NOT NULL,
  files         INTEGER NOT NULL,
  content_hash  TEXT,
  status        TEXT NOT NULL CHECK (status IN ('ok', 'error')),
  error         TEXT,
  verdict       TEXT,
  bytes_scanned INTEGER NOT NULL DEFAULT 0,
  streams       INTEGER NOT NULL DEFAULT 0,
  duration_ms   INTEGER NOT NULL DEFAULT 0,
  scan_id       INTEGER REFERENCES scans(id),
  scanned_at    TEXT NOT NULL
);
CREATE TABLE hosts (
  id        INTEGER PRIMARY KEY,
  input_id  INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
  host      TEXT NOT NULL,
  verdict   TEXT NOT NULL,
  boots     INTEGER NOT NULL DEFAULT 0,
  bundle    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX hosts_input ON hosts(input_id);
CREATE INDEX hosts_host ON hosts(host);
CREATE TABLE finding (
  id           INTEGER PRIMARY KEY,
  input_id     INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
  host_id      INTEGER REFERENCES hosts(id) ON DELETE CASCADE,
  host         TEXT NOT NULL,
  cause        TEXT NOT NULL,
  title        TEXT NOT NULL,
  confidence   REAL NOT NULL,
  status       TEXT NOT NULL,
  boot         INTEGER NOT NULL DEFAULT 0,
  resolved_in  INTEGER,
  ambiguous    INTEGER NOT NULL DEFAULT 0,
  alternatives TEXT NOT NULL DEFAULT '[]',
  rank         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX finding_input ON finding(input_id);
CREATE INDEX finding_cause ON finding(cause);
CREATE TABLE evidence (
  id          INTEGER PRIMARY KEY,
  finding_id  INTEGER NOT NULL REFERENCES finding(id) ON DELETE CASCADE,
  seq         INTEGER NOT NULL,
  input       TEXT NOT NULL,
  line        INTEGER NOT NULL,
  timestamp   TEXT,
  rule        TEXT NOT NULL,
  fact        TEXT NOT NULL,
  text        TEXT NOT NULL,
  fields      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX evidence_finding ON evidence(finding_id);
CREATE VIEW findings AS
  SELECT f.host AS host, f.cause AS cause, f.confidence AS confidence, f.status AS verdict,
         i.path AS input, i.scanned_at AS scanned_at
  FROM finding f JOIN inputs i ON i.id = f.input_id;
CREATE VIEW bundles AS
  SELECT h.host AS host, h.verdict AS verdict,
         json_extract(h.bundle, '$.hostname') AS hostname,
         json_extract(h.bundle, '$.esxi_version') AS esxi_version,
         json_extract(h.bundle, '$.esxi_build') AS esxi_build,
         json_extract(h.bundle, '$.bios_vendor') AS bios_vendor,
         json_extract(h.bundle, '$.bios_version') AS bios_version,
         json_extract(h.bundle, '$.board_vendor') AS board_vendor,
         json_extract(h.bundle, '$.board_product') AS board_product,
         json_extract(h.bundle, '$.tpm_present') AS tpm_present,
         json_extract(h.bundle, '$.tpmdriver_vib') AS tpmdriver_vib,
         json_extract(h.bundle, '$.tpm_vendor') AS tpm_vendor,
         json_extract(h.bundle, '$.tpm_firmware') AS tpm_firmware,
         i.path AS input, i.scanned_at AS scanned_at
  FROM hosts h JOIN inputs i ON i.id = h.input_id;
)SQL";

// Version 2: a scan row knows its process, so one killed before it ended
// can be told from one still running.
const char* kSchemaV2 = R"SQL(
ALTER TABLE scans ADD COLUMN status TEXT NOT NULL DEFAULT 'finished'
  CHECK (status IN ('running', 'finished', 'interrupted'));
ALTER TABLE scans ADD COLUMN pid INTEGER;
ALTER TABLE scans ADD COLUMN machine TEXT;
UPDATE scans SET status = 'interrupted' WHERE finished_at IS NULL;
)SQL";

// Version 3: host rows carry how much of their input was read and their boot
// windows; findings their fix steps; rank is 1-based per host and boot; the
// findings view gains boot and rank (columns are only added at the end).
const char* kSchemaV3 = R"SQL(
ALTER TABLE hosts ADD COLUMN status TEXT NOT NULL DEFAULT 'ok'
  CHECK (status IN ('ok', 'incomplete', 'error'));
ALTER TABLE hosts ADD COLUMN windows TEXT NOT NULL DEFAULT '[]';
ALTER TABLE finding ADD COLUMN fix TEXT NOT NULL DEFAULT '[]';
UPDATE hosts SET status = CASE WHEN boots > 0 THEN 'incomplete' ELSE 'error' END
  WHERE input_id IN (SELECT id FROM inputs WHERE status = 'error');
CREATE TEMP TABLE v3_rank AS SELECT id, row_number() OVER
  (PARTITION BY input_id, host, boot ORDER BY rank, id) AS r FROM finding;
UPDATE finding SET rank = (SELECT r FROM v3_rank WHERE v3_rank.id = finding.id);
DROP TABLE v3_rank;
CREATE INDEX finding_host ON finding(host_id);
DROP VIEW findings;
CREATE VIEW findings AS
  SELECT f.host AS host, f.cause AS cause, f.confidence AS confidence, f.status AS verdict,
         i.path AS input, i.scanned_at AS scanned_at, f.boot AS boot, f.rank AS rank
  FROM finding f JOIN inputs i ON i.id = f.input_id;
)SQL";

// A host's top finding: the best open one, else the best one (the report's order).
const char* kTopOrder = "(f.status = 'problem') DESC, f.confidence DESC, f.rank, f.boot DESC";

// Host row h (of input i) is its host's latest: no other input names the host
// with a newer modification time (ties: the later stored). Unnamed hosts are
// each their own.
const char* kLatest =
    "(coalesce(h.host, '') = '' OR NOT EXISTS (SELECT 1 FROM hosts h2 JOIN inputs i2 ON i2.id = h2.input_id "
    "WHERE h2.host = h.host AND (i2.mtime_ns > i.mtime_ns OR (i2.mtime_ns = i.mtime_ns AND i2.id > i.id))))";

// --host: a glob when it has glob characters, else a prefix.
std::string host_glob(const std::string& h) {
  if (h.empty() || h.find_first_of("*?[") != std::string::npos) return h;
  return h + "*";
}

std::string machine_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

using sql::Step;

// A statement on the store's connection, with chained binds.
class Stmt {
 public:
  Stmt(sql::Conn& c, const std::string& text) : c_(c.prepare(text)) {}
  bool ok() const { return c_->ok(); }
  Stmt& bind(int i, const std::string& s) {
    c_->bind(i, std::string_view(s));
    return *this;
  }
  Stmt& bind_or_null(int i, const std::string& s) {
    if (s.empty()) c_->bind_null(i);
    else c_->bind(i, std::string_view(s));
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    c_->bind(i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    c_->bind(i, v);
    return *this;
  }
  Step step() { return c_->step(); }
  void reset() { c_->reset(); }
  std::string text(int col) const { return c_->text(col); }
  int64_t integer(int col) const { return c_->integer(col); }
  double real(int col) const { return c_->real(col); }

 private:
  std::unique_ptr<sql::Cursor> c_;
};

std::string json_object(const std::map<std::string, std::string>& m) {
  std::ostringstream out;
  JsonWriter w(out);
  w.begin_object();
  for (const auto& [k, v] : m) w.key(k).string(v);
  w.end_object();
  return out.str();
}

std::string json_array(const std::vector<std::string>& v) {
  std::ostringstream out;
  JsonWriter w(out);
  w.begin_array();
  for (const auto& s : v) w.string(s);
  w.end_array();
  return out.str();
}

// Calls f on each element of a JSON array (a column the store wrote; anything
// else reads as empty).
template <class F>
void each_element(const std::string& text, F f) {
  simdjson::dom::parser p;
  simdjson::dom::array a;
  if (p.parse(text).get(a)) return;
  for (auto v : a) f(v);
}

std::vector<std::string> parse_strings(const std::string& text) {
  std::vector<std::string> out;
  each_element(text, [&](simdjson::dom::element v) {
    std::string_view s;
    if (!v.get(s)) out.emplace_back(s);
  });
  return out;
}

std::string json_windows(const std::vector<HostRecord::Boot>& boots) {
  std::ostringstream out;
  JsonWriter w(out);
  w.begin_array();
  for (const auto& b : boots)
    w.begin_object().key("boot").integer(b.index).key("first").string(b.first).key("last").string(b.last)
        .key("verdict").string(b.verdict).end_object();
  w.end_array();
  return out.str();
}

std::vector<HostRecord::Boot> parse_windows(const std::string& text) {
  std::vector<HostRecord::Boot> out;
  each_element(text, [&](simdjson::dom::element v) {
    HostRecord::Boot b;
    int64_t i = 0;
    std::string_view s;
    if (!v["boot"].get(i)) b.index = static_cast<int>(i);
    if (!v["first"].get(s)) b.first = s;
    if (!v["last"].get(s)) b.last = s;
    if (!v["verdict"].get(s)) b.verdict = s;
    out.push_back(std::move(b));
  });
  return out;
}

std::map<std::string, std::string> parse_object(const std::string& text) {
  std::map<std::string, std::string> out;
  simdjson::dom::parser p;
  simdjson::dom::object o;
  if (p.parse(text).get(o)) return out;
  for (auto [k, v] : o) {
    std::string_view s;
    if (!v.get(s)) out[std::string(k)] = std::string(s);
  }
  return out;
}

}  // namespace

std::string now_iso8601() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

const std::vector<Migration>& Store::migrations() {
  static const std::vector<Migration> m = {{1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}};
  return m;
}

Status Store::exec(const std::string& sql) { return db_->exec(sql); }

Result<std::unique_ptr<Store>> Store::open(const std::string& path, Mode mode, const std::vector<Migration>* history) {
  std::unique_ptr<Store> s(new Store());
  s->path_ = is_postgresql_uri(path) ? redact_uri(path) : path;  // shown in every error: no password
  if (is_postgresql_uri(path)) {
    auto c = sql::PgConn::open(path);
    if (!c) return c.error();
    s->db_ = std::move(*c);
  } else {
    auto c = sql::SqliteConn::open(path, mode != Mode::read, mode == Mode::create, history ? *history : migrations());
    if (!c) return c.error();
    s->db_ = std::move(*c);
  }
  if (mode == Mode::read) {
    if (auto st = s->check_readable(); !st) return st.error();
    return s;
  }
  if (auto st = s->migrate(history ? *history : s->db_->history()); !st) return st.error();
  return s;
}

// Read-only: nothing is migrated, so the schema must be this tpmdiag's.
Status Store::check_readable() {
  int v = schema_version();
  int latest = db_->history().back().version;
  if (v < 0) return make_error(path_ + ": cannot read the database: " + db_->errmsg());
  if (v > latest)
    return make_error(path_ + ": the database has schema version " + std::to_string(v) +
                      ", newer than this tpmdiag knows (" + std::to_string(latest) + "); use a newer tpmdiag");
  if (v == 0) return make_error(path_ + ": not a tpmdiag database (no tpmdiag schema version)");
  if (v < latest)
    return make_error(path_ + ": the database has schema version " + std::to_string(v) +
                      ", older than this tpmdiag reads (" + std::to_string(latest) +
                      "); it is upgraded by the next 'tpmdiag scan --db " + path_ + "' (which needs write access)");
  return ok_status();
}

Store::~Store() = default;

sqlite3* Store::handle() {
  auto* c = dynamic_cast<sql::SqliteConn*>(db_.get());
  return c ? c->handle() : nullptr;
}

int Store::schema_version() { return db_->version(); }

std::vector<int64_t> Store::dead_scans() {
  std::vector<int64_t> dead;
  Stmt q(*db_, "SELECT id, coalesce(pid, 0) FROM scans WHERE status = 'running' AND machine = ?");
  q.bind(1, machine_name());
  while (q.step() == Step::row) {
    auto pid = static_cast<pid_t>(q.integer(1));
    if (pid <= 0 || (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH)) dead.push_back(q.integer(0));
  }
  return dead;
}

Status Store::migrate(const std::vector<Migration>& history) {
  int latest = history.empty() ? 0 : history.back().version;
  if (auto st = db_->begin(true); !st) return st;
  int v = schema_version();
  if (v > latest) {
    (void)exec("ROLLBACK");
    return make_error(path_ + ": the database has schema version " + std::to_string(v) +
                      ", newer than this tpmdiag knows (" + std::to_string(latest) + "); use a newer tpmdiag");
  }
  if (v == 0) {
    // A fresh file, or someone else's database: refuse to add tables to the latter.
    if (db_->has_tables()) {
      (void)exec("ROLLBACK");
      return make_error(path_ + ": not a tpmdiag database (it has tables but no tpmdiag schema version)");
    }
  }
  for (const auto& m : history) {
    if (m.version <= v) continue;
    if (auto st = exec(m.sql); !st) {
      (void)exec("ROLLBACK");
      return make_error(st.error().message + " (migrating to schema version " + std::to_string(m.version) + ")");
    }
    if (auto st = db_->set_version(m.version); !st) {
      (void)exec("ROLLBACK");
      return st;
    }
  }
  return exec("COMMIT");
}

Result<int64_t> Store::begin_scan(const std::string& command) {
  for (int64_t id : dead_scans()) {
    Stmt u(*db_, "UPDATE scans SET status = 'interrupted', finished_at = ? WHERE id = ? AND status = 'running'");
    u.bind(1, now_iso8601()).bind(2, id);
    (void)u.step();  // best effort: summary() counts a dead one the same either way
  }
  Stmt q(*db_,
         "INSERT INTO scans(started_at, tool_version, command, status, pid, machine) "
         "VALUES (?, ?, ?, 'running', ?, ?) RETURNING id");
  q.bind(1, now_iso8601()).bind(2, std::string(TPMDIAG_VERSION)).bind(3, redact_uris(command));  // kept: no passwords
  q.bind(4, static_cast<int64_t>(::getpid())).bind(5, machine_name());
  if (q.step() != Step::row) return make_error(path_ + ": cannot record the scan: " + db_->errmsg());
  return q.integer(0);
}

Status Store::end_scan(int64_t scan_id, const ScanCounts& c) {
  Stmt q(*db_,
         "UPDATE scans SET finished_at = ?, status = 'finished', inputs_total = ?, inputs_scanned = ?, "
         "inputs_unchanged = ?, inputs_failed = ? WHERE id = ?");
  q.bind(1, now_iso8601()).bind(2, c.total).bind(3, c.scanned).bind(4, c.unchanged).bind(5, c.failed).bind(6, scan_id);
  if (q.step() != Step::done) return make_error(path_ + ": cannot finish the scan record: " + db_->errmsg());
  return ok_status();
}

Result<std::optional<StoredInput>> Store::find_input(const std::string& path) {
  Stmt q(*db_,
         "SELECT id, path, kind, status, coalesce(error, ''), coalesce(verdict, ''), scanned_at, size, files, mtime_ns "
         "FROM inputs WHERE path = ?");
  if (!q.ok()) return make_error(path_ + ": " + db_->errmsg());
  q.bind(1, path);
  Step rc = q.step();
  if (rc == Step::done) return std::optional<StoredInput>{};
  if (rc != Step::row) return make_error(path_ + ": " + db_->errmsg());
  StoredInput s;
  s.id = q.integer(0);
  s.path = q.text(1);
  s.kind = q.text(2);
  s.status = q.text(3);
  s.error = q.text(4);
  s.verdict = q.text(5);
  s.scanned_at = q.text(6);
  s.size = static_cast<uint64_t>(q.integer(7));
  s.files = static_cast<uint64_t>(q.integer(8));
  s.mtime_ns = q.integer(9);
  return std::optional<StoredInput>(std::move(s));
}

Status Store::record(int64_t scan_id, const InputRecord& in) { return record(scan_id, std::vector{&in}); }

Status Store::record(int64_t scan_id, const std::vector<const InputRecord*>& ins) {
  if (auto st = db_->begin(); !st) return st;
  for (const InputRecord* in : ins) {
    if (auto st = record_rows(scan_id, *in); !st) {
      (void)exec("ROLLBACK");
      return st;
    }
  }
  return exec("COMMIT");
}

Status Store::record_rows(int64_t scan_id, const InputRecord& in) {
  auto fail = [&](const std::string& what) {
    return make_error(path_ + ": cannot record " + in.path + ": " + what + ": " + db_->errmsg());
  };
  std::string now = in.scanned_at.empty() ? now_iso8601() : in.scanned_at;
  int64_t input_id = 0;
  {
    Stmt q(*db_,
           "INSERT INTO inputs(path, kind, size, mtime_ns, files, content_hash, status, error, verdict, bytes_scanned, "
           "streams, duration_ms, scan_id, scanned_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
           "ON CONFLICT(path) DO UPDATE SET kind=excluded.kind, size=excluded.size, mtime_ns=excluded.mtime_ns, "
           "files=excluded.files, content_hash=excluded.content_hash, status=excluded.status, error=excluded.error, "
           "verdict=excluded.verdict, bytes_scanned=excluded.bytes_scanned, streams=excluded.streams, "
           "duration_ms=excluded.duration_ms, scan_id=excluded.scan_id, scanned_at=excluded.scanned_at "
           "RETURNING id");
    q.bind(1, in.path).bind(2, in.kind).bind(3, static_cast<int64_t>(in.size)).bind(4, in.mtime_ns);
    q.bind(5, static_cast<int64_t>(in.files)).bind_or_null(6, in.content_hash).bind(7, in.status);
    q.bind_or_null(8, in.error).bind_or_null(9, in.verdict).bind(10, static_cast<int64_t>(in.bytes_scanned));
    q.bind(11, static_cast<int64_t>(in.streams)).bind(12, in.duration_ms).bind(13, scan_id).bind(14, now);
    if (q.step() != Step::row) return fail("inputs");
    input_id = q.integer(0);
  }
  {
    Stmt d1(*db_, "DELETE FROM finding WHERE input_id = ?");
    d1.bind(1, input_id);
    if (d1.step() != Step::done) return fail("finding");
    Stmt d2(*db_, "DELETE FROM hosts WHERE input_id = ?");
    d2.bind(1, input_id);
    if (d2.step() != Step::done) return fail("hosts");
  }
  std::map<std::string, int64_t> host_ids;
  {
    Stmt q(*db_,
           "INSERT INTO hosts(input_id, host, verdict, boots, bundle, status, windows) VALUES (?,?,?,?,?,?,?) "
           "RETURNING id");
    for (const auto& h : in.hosts) {
      q.reset();
      q.bind(1, input_id).bind(2, h.host).bind(3, h.verdict).bind(4, static_cast<int64_t>(h.boots));
      q.bind(5, json_object(h.bundle)).bind(6, h.status).bind(7, json_windows(h.windows));
      if (q.step() != Step::row) return fail("hosts");
      host_ids[h.host] = q.integer(0);
    }
  }
  {
    Stmt f(*db_,
           "INSERT INTO finding(input_id, host_id, host, cause, title, confidence, status, boot, resolved_in, "
           "ambiguous, alternatives, rank, fix) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id");
    Stmt e(*db_,
           "INSERT INTO evidence(finding_id, seq, input, line, timestamp, rule, fact, text, fields) "
           "VALUES (?,?,?,?,?,?,?,?,?)");
    for (const auto& fd : in.findings) {
      f.reset();
      f.bind(1, input_id);
      auto hid = host_ids.find(fd.host);
      if (hid != host_ids.end()) f.bind(2, hid->second);
      f.bind(3, fd.host).bind(4, fd.cause).bind(5, fd.title).bind(6, fd.confidence).bind(7, fd.status);
      f.bind(8, static_cast<int64_t>(fd.boot));
      if (fd.resolved_in) f.bind(9, static_cast<int64_t>(fd.resolved_in));
      f.bind(10, static_cast<int64_t>(fd.ambiguous)).bind(11, json_array(fd.alternatives));
      f.bind(12, static_cast<int64_t>(fd.rank)).bind(13, json_array(fd.fix));
      if (f.step() != Step::row) return fail("finding");
      int64_t fid = f.integer(0);
      int64_t seq = 0;
      for (const auto& ev : fd.evidence) {
        e.reset();
        e.bind(1, fid).bind(2, seq++).bind(3, ev.input).bind(4, static_cast<int64_t>(ev.line));
        e.bind_or_null(5, ev.timestamp).bind(6, ev.rule).bind(7, ev.fact).bind(8, ev.text).bind(9, ev.fields_json);
        if (e.step() != Step::done) return fail("evidence");
      }
    }
  }
  return ok_status();
}

Result<std::vector<HostRow>> Store::hosts(const Filter& filter, const std::vector<std::string>& inputs) {
  std::string sql =
      std::string("SELECT h.id, h.host, h.verdict, i.path, h.status, i.scanned_at, h.bundle, coalesce(i.error, ''), "
                  " (SELECT cause || '|' || confidence || '|' || status FROM finding f WHERE f.host_id = h.id "
                  "  ORDER BY ") + kTopOrder + " LIMIT 1) "
      "FROM hosts h JOIN inputs i ON i.id = h.input_id "
      "WHERE (?1 = '' OR EXISTS (SELECT 1 FROM finding f WHERE f.host_id = h.id AND f.cause = ?1)) "
      "AND (?2 = '' OR glob(?2, h.host)) AND (?3 OR " + kLatest + ") "
      "ORDER BY (h.verdict = 'problem') DESC, h.host, i.path";
  Stmt q(*db_, sql.c_str());
  if (!q.ok()) return make_error(path_ + ": " + db_->errmsg());
  q.bind(1, filter.cause).bind(2, host_glob(filter.host)).bind(3, static_cast<int64_t>(filter.all || !inputs.empty()));
  std::vector<HostRow> out;
  Step rc;
  while ((rc = q.step()) == Step::row) {
    HostRow r;
    r.id = q.integer(0);
    r.host = q.text(1);
    r.verdict = q.text(2);
    r.input = q.text(3);
    r.status = q.text(4);
    r.scanned_at = q.text(5);
    r.bundle = parse_object(q.text(6));
    r.input_error = q.text(7);
    std::string top = q.text(8);
    if (!top.empty()) {
      size_t a = top.find('|'), b = top.rfind('|');  // cause ids have no '|'
      r.top_cause = top.substr(0, a);
      r.top_confidence = std::atof(top.substr(a + 1, b - a - 1).c_str());
      r.top_status = top.substr(b + 1);
    }
    if (!inputs.empty() && std::find(inputs.begin(), inputs.end(), r.input) == inputs.end()) continue;
    out.push_back(std::move(r));
  }
  if (rc != Step::done) return make_error(path_ + ": " + db_->errmsg());
  return out;
}

Result<std::vector<FindingRow>> Store::findings(const Filter& filter) {
  std::string sql =
      std::string("SELECT f.host, f.cause, f.confidence, f.status, i.path, i.scanned_at, f.boot, f.rank "
                  "FROM finding f JOIN inputs i ON i.id = f.input_id LEFT JOIN hosts h ON h.id = f.host_id "
                  "WHERE (?1 = '' OR f.cause = ?1) AND (?2 = '' OR glob(?2, f.host)) AND (?3 OR ") + kLatest + ") "
      "ORDER BY (f.status = 'problem') DESC, f.confidence DESC, f.host, f.cause, f.boot";
  Stmt q(*db_, sql.c_str());
  if (!q.ok()) return make_error(path_ + ": " + db_->errmsg());
  q.bind(1, filter.cause).bind(2, host_glob(filter.host)).bind(3, static_cast<int64_t>(filter.all));
  std::vector<FindingRow> out;
  Step rc;
  while ((rc = q.step()) == Step::row)
    out.push_back({q.text(0), q.text(1), q.text(3), q.text(4), q.text(5), q.real(2), static_cast<int>(q.integer(6)),
                   static_cast<int>(q.integer(7))});
  if (rc != Step::done) return make_error(path_ + ": " + db_->errmsg());
  return out;
}

Result<std::vector<std::string>> Store::causes() {
  Stmt q(*db_, "SELECT DISTINCT cause FROM finding ORDER BY cause");
  if (!q.ok()) return make_error(path_ + ": " + db_->errmsg());
  std::vector<std::string> out;
  Step rc;
  while ((rc = q.step()) == Step::row) out.push_back(q.text(0));
  if (rc != Step::done) return make_error(path_ + ": " + db_->errmsg());
  return out;
}

Result<Summary> Store::summary(const Filter& filter) {
  Summary s;
  {
    Stmt q(*db_,
           "SELECT (SELECT count(*) FROM scans), (SELECT coalesce(max(started_at), '') FROM scans), "
           "(SELECT count(*) FROM inputs i WHERE ?1 = '' OR EXISTS (SELECT 1 FROM hosts h WHERE h.input_id = i.id "
           "  AND glob(?1, h.host))), "
           "(SELECT count(*) FROM inputs i WHERE status = 'error' AND (?1 = '' OR EXISTS (SELECT 1 FROM hosts h "
           "  WHERE h.input_id = i.id AND glob(?1, h.host))))");
    q.bind(1, host_glob(filter.host));
    if (q.step() != Step::row) return make_error(path_ + ": " + db_->errmsg());
    s.scans = q.integer(0);
    s.last_scan = q.text(1);
    s.inputs = q.integer(2);
    s.inputs_error = q.integer(3);
  }
  {
    auto dead = dead_scans();
    s.scans_interrupted = static_cast<int64_t>(dead.size());
    Stmt q(*db_, "SELECT status, count(*) FROM scans WHERE status != 'finished' GROUP BY status");
    while (q.step() == Step::row)
      (q.text(0) == "running" ? s.scans_running : s.scans_interrupted) += q.integer(1);
    s.scans_running -= static_cast<int64_t>(dead.size());
  }
  // Each host once (its latest input unless filter.all), by its top cause;
  // its other causes are candidates (or resolved, when a boot's top cause was
  // fixed later).
  auto rows = hosts(filter);
  if (!rows) return rows.error();
  s.hosts = static_cast<int64_t>(rows->size());
  std::map<std::string, Summary::Cause> by_cause;
  Stmt q(*db_, "SELECT cause, max(CASE WHEN status = 'resolved' AND rank = 1 THEN 1 ELSE 0 END) FROM finding WHERE host_id = ? GROUP BY cause");
  for (const auto& h : *rows) {
    ++s.host_verdicts[h.verdict];
    if (h.status != "ok") ++s.host_status[h.status];
    q.reset();
    q.bind(1, h.id);
    Step rc;
    while ((rc = q.step()) == Step::row) {
      std::string cause = q.text(0);
      if (!filter.cause.empty() && cause != filter.cause) continue;
      auto& c = by_cause[cause];
      c.cause = cause;
      if (cause == h.top_cause && h.top_status == "problem") ++c.open_hosts;
      else if (q.integer(1)) ++c.resolved_hosts;
      else ++c.candidate_hosts;
    }
    if (rc != Step::done) return make_error(path_ + ": " + db_->errmsg());
  }
  for (auto& [id, c] : by_cause) s.causes.push_back(c);
  std::sort(s.causes.begin(), s.causes.end(), [](const Summary::Cause& a, const Summary::Cause& b) {
    return std::tie(b.open_hosts, b.resolved_hosts, b.candidate_hosts, a.cause) <
           std::tie(a.open_hosts, a.resolved_hosts, a.candidate_hosts, b.cause);
  });
  return s;
}

Result<std::vector<FindingRecord>> Store::load_findings(const char* column, int64_t id) {
  std::string sql = std::string(
                        "SELECT id, host, cause, title, confidence, status, boot, coalesce(resolved_in, 0), ambiguous, "
                        "alternatives, rank, fix FROM finding f WHERE ") + column + " = ? ORDER BY " + kTopOrder;
  Stmt q(*db_, sql.c_str());
  Stmt e(*db_,
         "SELECT input, line, coalesce(timestamp, ''), rule, fact, text, fields FROM evidence WHERE finding_id = ? "
         "ORDER BY seq");
  if (!q.ok() || !e.ok()) return make_error(path_ + ": " + db_->errmsg());
  q.bind(1, id);
  std::vector<FindingRecord> out;
  Step rc;
  while ((rc = q.step()) == Step::row) {
    FindingRecord f;
    f.host = q.text(1);
    f.cause = q.text(2);
    f.title = q.text(3);
    f.confidence = q.real(4);
    f.status = q.text(5);
    f.boot = static_cast<int>(q.integer(6));
    f.resolved_in = static_cast<int>(q.integer(7));
    f.ambiguous = q.integer(8) != 0;
    f.alternatives = parse_strings(q.text(9));
    f.rank = static_cast<int>(q.integer(10));
    f.fix = parse_strings(q.text(11));
    e.reset();
    e.bind(1, q.integer(0));
    Step erc;
    while ((erc = e.step()) == Step::row)
      f.evidence.push_back({e.text(0), static_cast<uint64_t>(e.integer(1)), e.text(2), e.text(3), e.text(4), e.text(5),
                            e.text(6)});
    if (erc != Step::done) return make_error(path_ + ": " + db_->errmsg());
    out.push_back(std::move(f));
  }
  if (rc != Step::done) return make_error(path_ + ": " + db_->errmsg());
  return out;
}

Result<std::vector<StoredHost>> Store::show(const Filter& filter) {
  auto rows = hosts(filter);
  if (!rows) return rows.error();
  std::vector<StoredHost> out;
  Stmt q(*db_, "SELECT h.windows, i.kind FROM hosts h JOIN inputs i ON i.id = h.input_id WHERE h.id = ?");
  for (auto& r : *rows) {
    StoredHost sh;
    q.reset();
    q.bind(1, r.id);
    if (q.step() != Step::row) return make_error(path_ + ": " + db_->errmsg());
    sh.windows = parse_windows(q.text(0));
    sh.input_kind = q.text(1);
    auto f = load_findings("f.host_id", r.id);
    if (!f) return f.error();
    sh.findings = std::move(*f);
    sh.row = std::move(r);
    out.push_back(std::move(sh));
  }
  return out;
}

Result<std::vector<std::string>> Store::prune() {
  std::vector<std::pair<int64_t, std::string>> gone;
  {
    Stmt q(*db_, "SELECT id, path FROM inputs WHERE kind != 'live' ORDER BY path");
    if (!q.ok()) return make_error(path_ + ": " + db_->errmsg());
    while (q.step() == Step::row) {
      std::string p = q.text(1);
      struct stat st;
      // Only what is surely gone: a folder we may not read is not.
      if (::lstat(p.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) gone.emplace_back(q.integer(0), p);
    }
  }
  if (gone.empty()) return std::vector<std::string>{};
  if (auto st = db_->begin(); !st) return st.error();
  Stmt d(*db_, "DELETE FROM inputs WHERE id = ?");
  std::vector<std::string> out;
  for (const auto& [id, p] : gone) {
    d.reset();
    d.bind(1, id);
    if (d.step() != Step::done) {
      std::string msg = path_ + ": cannot forget " + p + ": " + db_->errmsg();
      (void)exec("ROLLBACK");
      return make_error(msg);
    }
    out.push_back(p);
  }
  if (auto st = exec("COMMIT"); !st) return st.error();
  return out;
}

Result<InputRecord> Store::load_input(int64_t id) {
  InputRecord in;
  {
    Stmt q(*db_,
           "SELECT path, kind, size, mtime_ns, files, coalesce(content_hash, ''), status, coalesce(error, ''), "
           "coalesce(verdict, ''), bytes_scanned, streams, duration_ms, scanned_at FROM inputs WHERE id = ?");
    q.bind(1, id);
    if (q.step() != Step::row) return make_error(path_ + ": input " + std::to_string(id) + ": " + db_->errmsg());
    in.path = q.text(0);
    in.kind = q.text(1);
    in.size = static_cast<uint64_t>(q.integer(2));
    in.mtime_ns = q.integer(3);
    in.files = static_cast<uint64_t>(q.integer(4));
    in.content_hash = q.text(5);
    in.status = q.text(6);
    in.error = q.text(7);
    in.verdict = q.text(8);
    in.bytes_scanned = static_cast<uint64_t>(q.integer(9));
    in.streams = static_cast<uint64_t>(q.integer(10));
    in.duration_ms = q.integer(11);
    in.scanned_at = q.text(12);
  }
  {
    Stmt q(*db_, "SELECT host, verdict, boots, bundle, status, windows FROM hosts WHERE input_id = ? ORDER BY id");
    q.bind(1, id);
    while (q.step() == Step::row) {
      HostRecord h;
      h.host = q.text(0);
      h.verdict = q.text(1);
      h.boots = static_cast<int>(q.integer(2));
      h.bundle = parse_object(q.text(3));
      h.status = q.text(4);
      h.windows = parse_windows(q.text(5));
      in.hosts.push_back(std::move(h));
    }
  }
  auto f = load_findings("f.input_id", id);
  if (!f) return f.error();
  in.findings = std::move(*f);
  return in;
}

Result<int64_t> Store::merge(int64_t scan_id, const std::string& source) {
  auto src = Store::open(source, Mode::read);
  if (!src) return src.error();
  std::vector<std::pair<int64_t, std::string>> theirs;  // id, scanned_at
  {
    Stmt q(*(*src)->db_, "SELECT id, path, scanned_at FROM inputs ORDER BY id");
    while (q.step() == Step::row) {
      auto mine = find_input(q.text(1));
      if (!mine) return mine.error();
      // The later scan of an input wins, as it would in one store.
      if (!*mine || (*mine)->scanned_at < q.text(2)) theirs.emplace_back(q.integer(0), q.text(2));
    }
  }
  int64_t n = 0;
  for (const auto& [id, at] : theirs) {
    auto in = (*src)->load_input(id);
    if (!in) return in.error();
    if (auto st = record(scan_id, *in); !st) return st.error();
    ++n;
  }
  return n;
}

}  // namespace tpmdiag::store
