#include "store/store.h"

#include <simdjson.h>
#include <sqlite3.h>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <sstream>
#include <thread>

#include "common/json_writer.h"

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

std::string machine_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_or_null(int i, const std::string& s) {
    if (s.empty()) sqlite3_bind_null(st_, i);
    else bind(i, s);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(st_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(st_); }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::string text(int col) const {
    auto* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, col))) : "";
  }
  int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }
  double real(int col) const { return sqlite3_column_double(st_, col); }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_;
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
  static const std::vector<Migration> m = {{1, kSchemaV1}, {2, kSchemaV2}};
  return m;
}

Status Store::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = path_ + ": " + (err ? err : sqlite3_errmsg(db_));
    sqlite3_free(err);
    return make_error(msg);
  }
  return ok_status();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, Mode mode, const std::vector<Migration>* history) {
  std::unique_ptr<Store> s(new Store());
  s->path_ = path;
  if (mode == Mode::read) {
    // The file must exist (SQLite would otherwise say "unable to open").
    if (::access(path.c_str(), F_OK) != 0)
      return make_error(path + ": cannot open the database: no such file (run 'tpmdiag scan --db " + path +
                        " PATH...' first)");
    if (auto st = s->open_for_reading(); !st) return st.error();
    return s;
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (mode == Mode::create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &s->db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = path + ": cannot open the database: " + (s->db_ ? sqlite3_errmsg(s->db_) : "out of memory");
    if (mode != Mode::create) msg += " (run 'tpmdiag scan --db " + path + " PATH...' first)";
    return make_error(msg);
  }
  sqlite3_busy_timeout(s->db_, 60000);
  // journal_mode=WAL needs a moment alone with the file when it is new.
  for (int tries = 0;; ++tries) {
    char* err = nullptr;
    int rc = sqlite3_exec(s->db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc == SQLITE_OK) break;
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries > 600)
      return make_error(path + ": not a usable SQLite database: " + sqlite3_errmsg(s->db_));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (auto st = s->exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"); !st) return st.error();
  if (auto st = s->migrate(history ? *history : migrations()); !st) return st.error();
  return s;
}

// Read-only: a store on read-only media or in a folder we may not write. A
// WAL database needs its -shm file; when it cannot be made, SQLite may still
// read the file as immutable (nobody writes it while we read, which a
// read-only file promises).
Status Store::open_for_reading() {
  for (const char* uri : {"file:%s?mode=ro", "file:%s?immutable=1"}) {
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
    char* name = sqlite3_mprintf(uri, path_.c_str());
    int rc = sqlite3_open_v2(name, &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
    sqlite3_free(name);
    if (rc != SQLITE_OK) continue;
    sqlite3_busy_timeout(db_, 60000);
    int v = schema_version();  // the first read: fails here if the file cannot be read this way
    if (v < 0) continue;
    int latest = migrations().back().version;
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
  return make_error(path_ + ": cannot read the database: " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
}

Store::~Store() {
  if (db_) sqlite3_close_v2(db_);
}

int Store::schema_version() {
  Stmt q(db_, "PRAGMA user_version");
  return q.ok() && q.step() == SQLITE_ROW ? static_cast<int>(q.integer(0)) : -1;
}

std::vector<int64_t> Store::dead_scans() {
  std::vector<int64_t> dead;
  Stmt q(db_, "SELECT id, coalesce(pid, 0) FROM scans WHERE status = 'running' AND machine = ?");
  q.bind(1, machine_name());
  while (q.step() == SQLITE_ROW) {
    auto pid = static_cast<pid_t>(q.integer(1));
    if (pid <= 0 || (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH)) dead.push_back(q.integer(0));
  }
  return dead;
}

Status Store::migrate(const std::vector<Migration>& history) {
  int latest = history.empty() ? 0 : history.back().version;
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st;
  int v = schema_version();
  if (v > latest) {
    (void)exec("ROLLBACK");
    return make_error(path_ + ": the database has schema version " + std::to_string(v) +
                      ", newer than this tpmdiag knows (" + std::to_string(latest) + "); use a newer tpmdiag");
  }
  if (v == 0) {
    // A fresh file, or someone else's database: refuse to add tables to the latter.
    Stmt q(db_, "SELECT count(*) FROM sqlite_master");
    if (q.step() == SQLITE_ROW && q.integer(0) > 0) {
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
    if (auto st = exec("PRAGMA user_version=" + std::to_string(m.version)); !st) {
      (void)exec("ROLLBACK");
      return st;
    }
  }
  return exec("COMMIT");
}

Result<int64_t> Store::begin_scan(const std::string& command) {
  for (int64_t id : dead_scans()) {
    Stmt u(db_, "UPDATE scans SET status = 'interrupted', finished_at = ? WHERE id = ? AND status = 'running'");
    u.bind(1, now_iso8601()).bind(2, id);
    (void)u.step();  // best effort: summary() counts a dead one the same either way
  }
  Stmt q(db_,
         "INSERT INTO scans(started_at, tool_version, command, status, pid, machine) "
         "VALUES (?, ?, ?, 'running', ?, ?)");
  q.bind(1, now_iso8601()).bind(2, std::string(TPMDIAG_VERSION)).bind(3, command);
  q.bind(4, static_cast<int64_t>(::getpid())).bind(5, machine_name());
  if (q.step() != SQLITE_DONE) return make_error(path_ + ": cannot record the scan: " + sqlite3_errmsg(db_));
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status Store::end_scan(int64_t scan_id, const ScanCounts& c) {
  Stmt q(db_,
         "UPDATE scans SET finished_at = ?, status = 'finished', inputs_total = ?, inputs_scanned = ?, "
         "inputs_unchanged = ?, inputs_failed = ? WHERE id = ?");
  q.bind(1, now_iso8601()).bind(2, c.total).bind(3, c.scanned).bind(4, c.unchanged).bind(5, c.failed).bind(6, scan_id);
  if (q.step() != SQLITE_DONE) return make_error(path_ + ": cannot finish the scan record: " + sqlite3_errmsg(db_));
  return ok_status();
}

Result<std::optional<StoredInput>> Store::find_input(const std::string& path) {
  Stmt q(db_,
         "SELECT id, path, kind, status, coalesce(error, ''), coalesce(verdict, ''), scanned_at, size, files, mtime_ns "
         "FROM inputs WHERE path = ?");
  if (!q.ok()) return make_error(path_ + ": " + sqlite3_errmsg(db_));
  q.bind(1, path);
  int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<StoredInput>{};
  if (rc != SQLITE_ROW) return make_error(path_ + ": " + sqlite3_errmsg(db_));
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

Status Store::record(int64_t scan_id, const InputRecord& in) {
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st;
  auto fail = [&](const std::string& what) {
    std::string msg = path_ + ": cannot record " + in.path + ": " + what + ": " + sqlite3_errmsg(db_);
    (void)exec("ROLLBACK");
    return make_error(msg);
  };
  std::string now = now_iso8601();
  int64_t input_id = 0;
  {
    Stmt q(db_,
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
    if (q.step() != SQLITE_ROW) return fail("inputs");
    input_id = q.integer(0);
  }
  {
    Stmt d1(db_, "DELETE FROM finding WHERE input_id = ?");
    d1.bind(1, input_id);
    if (d1.step() != SQLITE_DONE) return fail("finding");
    Stmt d2(db_, "DELETE FROM hosts WHERE input_id = ?");
    d2.bind(1, input_id);
    if (d2.step() != SQLITE_DONE) return fail("hosts");
  }
  std::map<std::string, int64_t> host_ids;
  {
    Stmt q(db_, "INSERT INTO hosts(input_id, host, verdict, boots, bundle) VALUES (?,?,?,?,?)");
    for (const auto& h : in.hosts) {
      q.reset();
      q.bind(1, input_id).bind(2, h.host).bind(3, h.verdict).bind(4, static_cast<int64_t>(h.boots));
      q.bind(5, json_object(h.bundle));
      if (q.step() != SQLITE_DONE) return fail("hosts");
      host_ids[h.host] = sqlite3_last_insert_rowid(db_);
    }
  }
  {
    Stmt f(db_,
           "INSERT INTO finding(input_id, host_id, host, cause, title, confidence, status, boot, resolved_in, "
           "ambiguous, alternatives, rank) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    Stmt e(db_,
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
      f.bind(12, static_cast<int64_t>(fd.rank));
      if (f.step() != SQLITE_DONE) return fail("finding");
      int64_t fid = sqlite3_last_insert_rowid(db_);
      int64_t seq = 0;
      for (const auto& ev : fd.evidence) {
        e.reset();
        e.bind(1, fid).bind(2, seq++).bind(3, ev.input).bind(4, static_cast<int64_t>(ev.line));
        e.bind_or_null(5, ev.timestamp).bind(6, ev.rule).bind(7, ev.fact).bind(8, ev.text).bind(9, ev.fields_json);
        if (e.step() != SQLITE_DONE) return fail("evidence");
      }
    }
  }
  return exec("COMMIT");
}

Result<std::vector<HostRow>> Store::hosts(const std::string& cause, const std::vector<std::string>& inputs) {
  std::string sql =
      "SELECT h.id, h.host, h.verdict, i.path, i.status, i.scanned_at, h.bundle, "
      " (SELECT cause || char(31) || confidence || char(31) || status FROM finding f WHERE f.host_id = h.id "
      "  ORDER BY (status = 'problem') DESC, confidence DESC, rank LIMIT 1) "
      "FROM hosts h JOIN inputs i ON i.id = h.input_id WHERE 1 ";
  if (!cause.empty()) sql += " AND EXISTS (SELECT 1 FROM finding f WHERE f.host_id = h.id AND f.cause = ?1)";
  sql += " ORDER BY (h.verdict = 'problem') DESC, h.host, i.path";
  Stmt q(db_, sql.c_str());
  if (!q.ok()) return make_error(path_ + ": " + sqlite3_errmsg(db_));
  if (!cause.empty()) q.bind(1, cause);
  std::vector<HostRow> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    HostRow r;
    r.host = q.text(1);
    r.verdict = q.text(2);
    r.input = q.text(3);
    r.status = q.text(4);
    r.scanned_at = q.text(5);
    r.bundle = parse_object(q.text(6));
    std::string top = q.text(7);
    if (!top.empty()) {
      size_t a = top.find('\x1f'), b = top.rfind('\x1f');
      r.top_cause = top.substr(0, a);
      r.top_confidence = std::atof(top.substr(a + 1, b - a - 1).c_str());
      r.top_status = top.substr(b + 1);
    }
    if (!inputs.empty() && std::find(inputs.begin(), inputs.end(), r.input) == inputs.end()) continue;
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return make_error(path_ + ": " + sqlite3_errmsg(db_));
  return out;
}

Result<std::vector<FindingRow>> Store::findings(const std::string& cause, const std::string& host) {
  Stmt q(db_,
         "SELECT host, cause, confidence, verdict, input, scanned_at FROM findings "
         "WHERE (?1 = '' OR cause = ?1) AND (?2 = '' OR host = ?2) "
         "ORDER BY (verdict = 'problem') DESC, confidence DESC, host, cause");
  if (!q.ok()) return make_error(path_ + ": " + sqlite3_errmsg(db_));
  q.bind(1, cause).bind(2, host);
  std::vector<FindingRow> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    out.push_back({q.text(0), q.text(1), q.text(3), q.text(4), q.text(5), q.real(2)});
  if (rc != SQLITE_DONE) return make_error(path_ + ": " + sqlite3_errmsg(db_));
  return out;
}

Result<Summary> Store::summary() {
  Summary s;
  {
    Stmt q(db_,
           "SELECT (SELECT count(*) FROM scans), (SELECT coalesce(max(started_at), '') FROM scans), "
           "(SELECT count(*) FROM inputs), (SELECT count(*) FROM inputs WHERE status = 'error'), "
           "(SELECT count(*) FROM hosts)");
    if (q.step() != SQLITE_ROW) return make_error(path_ + ": " + sqlite3_errmsg(db_));
    s.scans = q.integer(0);
    s.last_scan = q.text(1);
    s.inputs = q.integer(2);
    s.inputs_error = q.integer(3);
    s.hosts = q.integer(4);
  }
  {
    auto dead = dead_scans();
    s.scans_interrupted = static_cast<int64_t>(dead.size());
    Stmt q(db_, "SELECT status, count(*) FROM scans WHERE status != 'finished' GROUP BY status");
    while (q.step() == SQLITE_ROW)
      (q.text(0) == "running" ? s.scans_running : s.scans_interrupted) += q.integer(1);
    s.scans_running -= static_cast<int64_t>(dead.size());
  }
  {
    Stmt q(db_, "SELECT verdict, count(*) FROM hosts GROUP BY verdict");
    while (q.step() == SQLITE_ROW) s.host_verdicts[q.text(0)] = q.integer(1);
  }
  {
    Stmt q(db_,
           "SELECT cause, count(DISTINCT CASE WHEN status = 'problem' THEN host_id END), "
           "count(DISTINCT CASE WHEN status = 'resolved' THEN host_id END) FROM finding GROUP BY cause "
           "ORDER BY 2 DESC, 3 DESC, cause");
    while (q.step() == SQLITE_ROW) s.causes.push_back({q.text(0), q.integer(1), q.integer(2)});
  }
  return s;
}

}  // namespace tpmdiag::store
