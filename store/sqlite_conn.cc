#include "store/sqlite_conn.h"

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace tpmdiag::store::sql {

namespace {

class SqliteCursor : public Cursor {
 public:
  SqliteCursor(sqlite3* db, const std::string& sql) { rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr); }
  ~SqliteCursor() override { sqlite3_finalize(st_); }
  bool ok() const override { return rc_ == SQLITE_OK; }
  void bind(int i, std::string_view s) override {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, int64_t v) override { sqlite3_bind_int64(st_, i, v); }
  void bind(int i, double v) override { sqlite3_bind_double(st_, i, v); }
  void bind_null(int i) override { sqlite3_bind_null(st_, i); }
  Step step() override {
    if (!st_) return Step::error;
    int rc = sqlite3_step(st_);
    return rc == SQLITE_ROW ? Step::row : rc == SQLITE_DONE ? Step::done : Step::error;
  }
  void reset() override {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::string text(int col) const override {
    auto* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, col))) : "";
  }
  int64_t integer(int col) const override { return sqlite3_column_int64(st_, col); }
  double real(int col) const override { return sqlite3_column_double(st_, col); }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_;
};

}  // namespace

Result<std::unique_ptr<SqliteConn>> SqliteConn::open(const std::string& path, bool write, bool create,
                                                     const std::vector<Migration>& history) {
  std::unique_ptr<SqliteConn> c(new SqliteConn());
  c->path_ = path;
  c->history_ = history;
  if (!write) {
    // The file must exist (SQLite would otherwise say "unable to open").
    if (::access(path.c_str(), F_OK) != 0)
      return make_error(path + ": cannot open the database: no such file (run 'tpmdiag scan --db " + path +
                        " PATH...' first)");
    // A WAL database needs its -shm file; when it cannot be made, SQLite may
    // still read the file as immutable (nobody writes it while we read, which
    // a read-only file promises).
    for (const char* uri : {"file:%s?mode=ro", "file:%s?immutable=1"}) {
      if (c->db_) sqlite3_close_v2(c->db_);
      c->db_ = nullptr;
      char* name = sqlite3_mprintf(uri, path.c_str());
      int rc = sqlite3_open_v2(name, &c->db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
      sqlite3_free(name);
      if (rc != SQLITE_OK) continue;
      sqlite3_busy_timeout(c->db_, 60000);
      if (c->version() >= 0) return c;  // the first read: fails here if the file cannot be read this way
    }
    return make_error(path + ": cannot read the database: " + (c->db_ ? sqlite3_errmsg(c->db_) : "out of memory"));
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = path + ": cannot open the database: " + (c->db_ ? sqlite3_errmsg(c->db_) : "out of memory");
    if (!create) msg += " (run 'tpmdiag scan --db " + path + " PATH...' first)";
    return make_error(msg);
  }
  sqlite3_busy_timeout(c->db_, 60000);
  // journal_mode=WAL needs a moment alone with the file when it is new.
  for (int tries = 0;; ++tries) {
    char* err = nullptr;
    int rc = sqlite3_exec(c->db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc == SQLITE_OK) break;
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries > 600)
      return make_error(path + ": not a usable SQLite database: " + sqlite3_errmsg(c->db_));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (auto st = c->exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"); !st) return st.error();
  return c;
}

SqliteConn::~SqliteConn() {
  if (db_) sqlite3_close_v2(db_);
}

std::unique_ptr<Cursor> SqliteConn::prepare(const std::string& sql) { return std::make_unique<SqliteCursor>(db_, sql); }

Status SqliteConn::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = path_ + ": " + (err ? err : sqlite3_errmsg(db_));
    sqlite3_free(err);
    return make_error(msg);
  }
  return ok_status();
}

std::string SqliteConn::errmsg() { return sqlite3_errmsg(db_); }

Status SqliteConn::begin(bool) { return exec("BEGIN IMMEDIATE"); }

int SqliteConn::version() {
  SqliteCursor q(db_, "PRAGMA user_version");
  return q.ok() && q.step() == Step::row ? static_cast<int>(q.integer(0)) : -1;
}

Status SqliteConn::set_version(int v) { return exec("PRAGMA user_version=" + std::to_string(v)); }

bool SqliteConn::has_tables() {
  SqliteCursor q(db_, "SELECT count(*) FROM sqlite_master");
  return q.step() == Step::row && q.integer(0) > 0;
}

}  // namespace tpmdiag::store::sql
