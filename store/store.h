// The fleet store: scans, inputs, hosts (with bundle metadata), findings and
// their evidence in one SQLite file, or a PostgreSQL database when the path is
// a postgresql:// URI (schema and example queries: docs/store.md). Both run
// the same statements (store/sql.h).
//
//   auto st = Store::open("fleet.db");              // creates or migrates it
//   if (!st) { print(st.error()); return 2; }
//   auto scan = (*st)->begin_scan("tpmdiag scan ...");
//   auto old = (*st)->find_input("/abs/esx-h1-….tgz");   // unchanged? skip it
//   (*st)->record(*scan, input_record);              // one transaction per input
//   (*st)->end_scan(*scan, counts);
//
// Concurrency: every write is one short transaction keyed by the input's path
// (SQLite: WAL, a busy timeout, BEGIN IMMEDIATE), so several processes may
// scan into one store at once; a Store object itself is used by one thread
// (the scan command's writer). Schema changes go through migrations() (each
// backend's history): the stored schema version says which ran.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "store/sql.h"

struct sqlite3;

namespace tpmdiag::store {

struct EvidenceRecord {
  std::string input;
  uint64_t line = 0;
  std::string timestamp;  // ISO 8601 or empty
  std::string rule, fact, text;
  std::string fields_json = "{}";
};

struct FindingRecord {
  std::string host, cause, title;
  double confidence = 0;
  std::string status = "problem";  // problem | resolved
  int boot = 0, resolved_in = 0;
  int rank = 0;  // 1: the host's top cause in that boot
  bool ambiguous = false;
  std::vector<std::string> alternatives;
  std::vector<std::string> fix;  // the cause's fix steps (kb/), placeholders filled
  std::vector<EvidenceRecord> evidence;
};

struct HostRecord {
  std::string host;
  std::string verdict;  // of what was read
  int boots = 0;
  std::map<std::string, std::string> bundle;  // kb/bundle-metadata.json fields found
  std::string status = "ok";  // ok | incomplete (read in part) | error (nothing read)
  struct Boot {
    int index = 0;
    std::string first, last;  // ISO 8601 or empty
    std::string verdict;
  };
  std::vector<Boot> windows{};  // (initialisers: tests build records from the first fields)
};

struct InputRecord {
  std::string path;          // absolute; the key of the inputs table
  std::string kind;          // archive | folder | file
  uint64_t size = 0;         // bytes (a folder: sum of its scanned files)
  int64_t mtime_ns = 0;      // a folder: newest of its scanned files
  uint64_t files = 0;        // files counted in size/mtime (1 for a file)
  std::string content_hash;  // "crc32:…" of the raw bytes when read whole; else empty
  std::string status = "ok"; // ok | error
  std::string error;         // first error line when status = error
  std::string verdict;       // problem | resolved | healthy | no_tpm_evidence
  uint64_t bytes_scanned = 0, streams = 0;
  int64_t duration_ms = 0;
  std::vector<HostRecord> hosts;
  std::vector<FindingRecord> findings;  // best first
  std::string scanned_at;               // empty: now (merge keeps the source's)
};

struct StoredInput {
  int64_t id = 0;
  std::string path, kind, status, error, verdict, scanned_at;
  uint64_t size = 0, files = 0;
  int64_t mtime_ns = 0;
};

struct HostRow {
  int64_t id = 0;
  std::string host, verdict, input, scanned_at;
  std::string status;       // the host row's: ok | incomplete | error
  std::string input_error;  // the input's first error line, if any
  std::string top_cause;  // best open finding, else best finding; empty if none
  double top_confidence = 0;
  std::string top_status;
  std::map<std::string, std::string> bundle;
};

struct FindingRow {  // the `findings` view
  std::string host, cause, verdict, input, scanned_at;
  double confidence = 0;
  int boot = 0, rank = 0;  // rank 1: the host's top cause in that boot
};

// What every `db` question may be narrowed to.
struct Filter {
  std::string cause;  // exact id; empty: any
  std::string host;   // a glob (* ? [..]) or else a prefix; empty: any
  bool all = false;   // every stored input of a host, not only its latest
};

// One host of one input, whole: for `db show` and `db merge`.
struct StoredHost {
  HostRow row;
  std::string input_kind;
  std::vector<HostRecord::Boot> windows;
  std::vector<FindingRecord> findings;  // best first, with evidence
};

struct Summary {
  int64_t scans = 0, inputs = 0, inputs_error = 0, hosts = 0;
  std::string last_scan;
  std::map<std::string, int64_t> host_verdicts;
  struct Cause {
    std::string cause;
    int64_t open_hosts = 0, resolved_hosts = 0;  // hosts whose top cause it is
    int64_t candidate_hosts = 0;                 // hosts where it is a weaker candidate
  };
  std::vector<Cause> causes;  // most open hosts first
  std::map<std::string, int64_t> host_status;  // incomplete | error -> hosts (ok not listed)
  int64_t scans_interrupted = 0;  // killed before they ended (their inputs up to then are kept)
  int64_t scans_running = 0;
};

struct ScanCounts {
  int64_t total = 0, scanned = 0, unchanged = 0, failed = 0;
};

class Store {
 public:
  // The built-in schema history; the last entry's version is current.
  static const std::vector<Migration>& migrations();

  // create: creates the file if missing; write: it must exist; both migrate
  // it to the newest version of `history` (default: migrations()). read: only
  // reads (a read-only file or folder is fine; nothing is migrated). Fails on a
  // file that is not a tpmdiag store or whose schema is newer than this tpmdiag.
  enum class Mode { create, write, read };
  static Result<std::unique_ptr<Store>> open(const std::string& path, Mode mode = Mode::create,
                                             const std::vector<Migration>* history = nullptr);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version();
  const std::string& path() const { return path_; }  // as it may be shown (a URI without its password)

  // A scan row is 'running' from begin_scan to end_scan. A scan that died
  // (kill -9, a crash, a power cut) never ends its row: the next begin_scan on
  // the same machine marks the rows of scanners no longer alive 'interrupted',
  // and summary() counts them so even when the store is read-only.
  Result<int64_t> begin_scan(const std::string& command);
  Status end_scan(int64_t scan_id, const ScanCounts& counts);

  Result<std::optional<StoredInput>> find_input(const std::string& path);
  // Replaces what the store holds for in.path (hosts, findings, evidence), in
  // one transaction.
  Status record(int64_t scan_id, const InputRecord& in);
  // Several inputs in one transaction (the live store's flush: one commit
  // for the hosts changed in the last second, not one each).
  Status record(int64_t scan_id, const std::vector<const InputRecord*>& ins);

  // Hosts with their bundle metadata and top cause; with filter.cause, only
  // hosts with a finding of that cause; with `inputs`, only those input paths.
  // Without filter.all, a host named in several inputs is listed from its
  // latest one (newest modification time).
  Result<std::vector<HostRow>> hosts(const Filter& filter = {}, const std::vector<std::string>& inputs = {});
  Result<std::vector<FindingRow>> findings(const Filter& filter = {});
  Result<Summary> summary(const Filter& filter = {});
  // The cause ids the store holds findings of.
  Result<std::vector<std::string>> causes();
  // The hosts matching filter.host, whole (latest input each unless filter.all).
  Result<std::vector<StoredHost>> show(const Filter& filter);

  // Forgets the inputs whose file or folder is gone (not live ones); returns
  // their paths.
  Result<std::vector<std::string>> prune();
  // Copies every input of the store at `source` that this one lacks or holds
  // from an older scan (per input path), with its hosts, findings and evidence;
  // returns how many were copied.
  Result<int64_t> merge(int64_t scan_id, const std::string& source);

  sqlite3* handle();  // SQLite only (tests); nullptr for PostgreSQL

 private:
  Status record_rows(int64_t scan_id, const InputRecord& in);  // inside a transaction
  Store() = default;
  Status exec(const std::string& sql);
  Status migrate(const std::vector<Migration>& history);
  Status check_readable();
  // Ids of 'running' scans whose process is gone (started on this machine).
  std::vector<int64_t> dead_scans();
  Result<InputRecord> load_input(int64_t id);
  // A host's or an input's findings (column: f.host_id or f.input_id), best first.
  Result<std::vector<FindingRecord>> load_findings(const char* column, int64_t id);
  std::string path_;
  std::unique_ptr<sql::Conn> db_;
};

// Current time as ISO 8601 UTC with milliseconds.
std::string now_iso8601();

}  // namespace tpmdiag::store
