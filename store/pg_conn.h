// PostgreSQL behind the store's SQL connection (store/sql.h), through libpq:
// `--db postgresql://USER@HOST/DB` (or postgres://; any libpq connection
// URI). Same tables and views as SQLite; many scan/listen/watch processes may
// write one database at once (each input is one transaction, keyed by its
// path). Built only when libpq is found (TPMDIAG_HAVE_LIBPQ).
#pragma once

#include "store/sql.h"

namespace tpmdiag::store {

// postgresql://... or postgres://...
bool is_postgresql_uri(const std::string& s);
// The URI as it may be shown: without a password.
std::string redact_uri(const std::string& uri);
// Every postgres(ql):// URI in `text` (a command line) so.
std::string redact_uris(const std::string& text);

namespace sql {

class PgConn {
 public:
  static Result<std::unique_ptr<Conn>> open(const std::string& uri);
};

}  // namespace sql
}  // namespace tpmdiag::store
