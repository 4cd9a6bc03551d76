// The store's SQL connection: one interface over SQLite (the default, a
// file) and PostgreSQL (libpq, a postgresql:// URI), so both run the same
// statements and the same row logic (store/store.cc). Statements are written
// once, in the subset both speak: `?` or `?N` parameters, RETURNING, ON
// CONFLICT ... DO UPDATE, glob(pattern, text), CASE instead of boolean
// aggregates. The schema (DDL) is each backend's own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tpmdiag::store {

struct Migration {
  int version;      // schema version after it ran
  const char* sql;  // statements run in one transaction
};

namespace sql {

enum class Step { row, done, error };

class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual bool ok() const = 0;  // false: the statement did not prepare (errmsg says why)
  virtual void bind(int i, std::string_view s) = 0;  // 1-based, as `?N`
  virtual void bind(int i, int64_t v) = 0;
  virtual void bind(int i, double v) = 0;
  virtual void bind_null(int i) = 0;
  virtual Step step() = 0;
  virtual void reset() = 0;  // to run again; clears the bindings
  virtual std::string text(int col) const = 0;
  virtual int64_t integer(int col) const = 0;
  virtual double real(int col) const = 0;
};

class Conn {
 public:
  virtual ~Conn() = default;
  virtual std::unique_ptr<Cursor> prepare(const std::string& sql) = 0;
  virtual Status exec(const std::string& sql) = 0;  // one or more statements, no results
  virtual std::string errmsg() = 0;                 // the last error
  // A write transaction that holds the store's write lock from its start
  // (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and a transaction-level
  // advisory lock only for migrations, rows lock themselves).
  virtual Status begin(bool exclusive = false) = 0;
  virtual int version() = 0;  // the schema version, 0 for none, -1 when unreadable
  virtual Status set_version(int v) = 0;
  virtual bool has_tables() = 0;                       // someone's database, or an empty one
  virtual const std::vector<Migration>& history() = 0;  // this backend's schema history
  virtual const char* kind() const = 0;                 // "sqlite" | "postgresql"
};

}  // namespace sql
}  // namespace tpmdiag::store
