// SQLite behind the store's SQL connection (store/sql.h): a file in WAL mode
// with a busy timeout, so several processes may write it at once.
#pragma once

#include "store/sql.h"

struct sqlite3;

namespace tpmdiag::store::sql {

class SqliteConn : public Conn {
 public:
  // write: create (when `create`) or open read-write, WAL; else read-only
  // (a read-only file or folder is fine: then read as immutable).
  static Result<std::unique_ptr<SqliteConn>> open(const std::string& path, bool write, bool create,
                                                  const std::vector<Migration>& history);
  ~SqliteConn() override;
  std::unique_ptr<Cursor> prepare(const std::string& sql) override;
  Status exec(const std::string& sql) override;
  std::string errmsg() override;
  Status begin(bool exclusive) override;
  int version() override;
  Status set_version(int v) override;
  bool has_tables() override;
  const std::vector<Migration>& history() override { return history_; }
  const char* kind() const override { return "sqlite"; }
  sqlite3* handle() { return db_; }

 private:
  SqliteConn() = default;
  std::string path_;
  sqlite3* db_ = nullptr;
  std::vector<Migration> history_;
};

}  // namespace tpmdiag::store::sql
