// The SQLite fleet store: schema, replace-on-rescan, the findings view,
// migrations, concurrent writers.
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "store/live_store.h"
#include "store/pg_conn.h"
#include "store/store.h"

using namespace tpmdiag;
using namespace tpmdiag::store;
namespace fs = std::filesystem;

namespace {

struct TempDb {
  std::string path;
  fs::path dir;
  TempDb() {
    char tmpl[] = "/tmp/tpmdiag-store-XXXXXX";
    dir = mkdtemp(tmpl);
    path = (dir / "fleet.db").string();
  }
  ~TempDb() { fs::remove_all(dir); }
};

InputRecord input(const std::string& path, const std::string& host, const std::string& cause, double conf,
                  const std::string& status = "problem") {
  InputRecord in;
  in.path = path;
  in.kind = "archive";
  in.size = 100;
  in.mtime_ns = 42;
  in.verdict = status;
  in.hosts.push_back({host, status, 1, {{"esxi_build", "19193900"}, {"tpm_vendor", "IFX"}}});
  FindingRecord f;
  f.host = host;
  f.cause = cause;
  f.title = "t";
  f.confidence = conf;
  f.status = status;
  f.boot = 1;
  f.evidence.push_back({path + "!x/var/run/log/hostd.log", 10, "2021-10-29T19:41:29.399Z", "hostd.x", "fact_x",
                        "line text", "{\"rc\":\"0x9a2\"}"});
  in.findings.push_back(f);
  return in;
}

Filter by_cause(const std::string& cause) {
  Filter f;
  f.cause = cause;
  return f;
}

int64_t count(Store& s, const char* sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(s.handle(), sql, -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

}  // namespace

TEST_CASE("store: create, record, replace on rescan, query", "[store]") {
  TempDb t;
  auto st = Store::open(t.path);
  REQUIRE(st);
  Store& s = **st;
  CHECK(s.schema_version() == Store::migrations().back().version);
  {
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(s.handle(), "PRAGMA journal_mode", -1, &q, nullptr);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(q, 0))) == "wal");
    sqlite3_finalize(q);
  }
  auto scan = s.begin_scan("test");
  REQUIRE(scan);
  REQUIRE(s.record(*scan, input("/b/h1.tgz", "h1", "pcr_bank_sha1_only", 0.8)));
  REQUIRE(s.record(*scan, input("/b/h2.tgz", "h2", "tpm_da_lockout", 0.5, "resolved")));
  // Rescanning an input replaces its rows.
  REQUIRE(s.record(*scan, input("/b/h1.tgz", "h1", "pcr_bank_sha1_only", 0.9)));
  REQUIRE(s.end_scan(*scan, {2, 2, 0, 0}));
  CHECK(count(s, "SELECT count(*) FROM inputs") == 2);
  CHECK(count(s, "SELECT count(*) FROM hosts") == 2);
  CHECK(count(s, "SELECT count(*) FROM finding") == 2);
  CHECK(count(s, "SELECT count(*) FROM evidence") == 2);

  auto f = s.findings(by_cause("pcr_bank_sha1_only"));
  REQUIRE(f);
  REQUIRE(f->size() == 1);
  CHECK((*f)[0].host == "h1");
  CHECK((*f)[0].confidence == Approx(0.9));
  CHECK((*f)[0].verdict == "problem");
  CHECK((*f)[0].input == "/b/h1.tgz");

  auto h = s.hosts(by_cause("tpm_da_lockout"));
  REQUIRE(h);
  REQUIRE(h->size() == 1);
  CHECK((*h)[0].host == "h2");
  CHECK((*h)[0].top_cause == "tpm_da_lockout");
  CHECK((*h)[0].bundle.at("tpm_vendor") == "IFX");
  CHECK(count(s, "SELECT count(*) FROM bundles WHERE esxi_build = '19193900'") == 2);

  auto old = s.find_input("/b/h1.tgz");
  REQUIRE(old);
  REQUIRE(*old);
  CHECK((*old)->size == 100);
  CHECK((*old)->mtime_ns == 42);

  auto sum = s.summary();
  REQUIRE(sum);
  CHECK(sum->inputs == 2);
  CHECK(sum->host_verdicts["problem"] == 1);
  CHECK(sum->host_verdicts["resolved"] == 1);
}

TEST_CASE("store: migrations run in order; a newer schema or a foreign database is refused", "[store]") {
  TempDb t;
  {
    auto st = Store::open(t.path);
    REQUIRE(st);
    auto scan = (*st)->begin_scan("test");
    REQUIRE((*st)->record(*scan, input("/b/h1.tgz", "h1", "tpm_da_lockout", 0.5)));
  }
  // A later tpmdiag adds a column: the data survives the migration.
  std::vector<Migration> next = Store::migrations();
  next.push_back({next.back().version + 1, "ALTER TABLE hosts ADD COLUMN note TEXT;"});
  {
    auto st = Store::open(t.path, Store::Mode::create, &next);
    REQUIRE(st);
    CHECK((*st)->schema_version() == next.back().version);
    CHECK(count(**st, "SELECT count(*) FROM hosts WHERE note IS NULL") == 1);
  }
  // This tpmdiag does not know that version: refuse, do not guess.
  auto older = Store::open(t.path);
  REQUIRE_FALSE(older);
  CHECK(older.error().message.find("newer") != std::string::npos);

  TempDb other;
  {
    sqlite3* db = nullptr;
    sqlite3_open(other.path.c_str(), &db);
    sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto foreign = Store::open(other.path);
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().message.find("not a tpmdiag database") != std::string::npos);

  auto missing = Store::open((other.dir / "nope.db").string(), Store::Mode::write);
  REQUIRE_FALSE(missing);
}

TEST_CASE("store: two writers on one file both land", "[store]") {
  TempDb t;
  auto writer = [&](int id) {
    auto st = Store::open(t.path);
    REQUIRE(st);
    auto scan = (*st)->begin_scan("writer " + std::to_string(id));
    REQUIRE(scan);
    for (int i = 0; i < 40; ++i) {
      std::string host = std::string("w").append(std::to_string(id)).append("-").append(std::to_string(i));
      REQUIRE((*st)->record(*scan, input("/b/" + host + ".tgz", host, "tpm_da_lockout", 0.5)));
    }
  };
  std::thread a(writer, 1), b(writer, 2);
  a.join();
  b.join();
  auto st = Store::open(t.path);
  REQUIRE(st);
  CHECK(count(**st, "SELECT count(*) FROM inputs") == 80);
  CHECK(count(**st, "SELECT count(*) FROM findings") == 80);
  CHECK(count(**st, "SELECT count(*) FROM scans") == 2);
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2((*st)->handle(), "PRAGMA integrity_check", -1, &q, nullptr);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(q, 0))) == "ok");
  sqlite3_finalize(q);
}

TEST_CASE("store: v2 to v3 renumbers rank per host and boot; the findings view gains boot and rank", "[store]") {
  TempDb t;
  std::vector<Migration> v2(Store::migrations().begin(), Store::migrations().begin() + 2);
  {
    auto st = Store::open(t.path, Store::Mode::create, &v2);
    REQUIRE(st);
    REQUIRE((*st)->schema_version() == 2);
    // v2 numbered rank 0.. per input, across hosts and boots.
    REQUIRE(sqlite3_exec((*st)->handle(), R"SQL(
      INSERT INTO inputs(id, path, kind, size, mtime_ns, files, status, scanned_at)
        VALUES (1, '/b/h1.tgz', 'archive', 1, 1, 1, 'error', 'x');
      INSERT INTO hosts(id, input_id, host, verdict, boots) VALUES (1, 1, 'h1', 'problem', 2);
      INSERT INTO finding(input_id, host_id, host, cause, title, confidence, status, boot, rank) VALUES
        (1, 1, 'h1', 'tpm_firmware_outdated', 't', 0.8, 'problem', 1, 0),
        (1, 1, 'h1', 'tpm_da_lockout', 't', 0.4, 'problem', 1, 1),
        (1, 1, 'h1', 'pcr_bank_sha1_only', 't', 0.3, 'problem', 2, 2);
    )SQL", nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  auto st = Store::open(t.path);
  REQUIRE(st);
  CHECK((*st)->schema_version() == 3);
  CHECK(count(**st, "SELECT count(*) FROM findings WHERE cause = 'tpm_firmware_outdated' AND boot = 1 AND rank = 1") == 1);
  CHECK(count(**st, "SELECT count(*) FROM findings WHERE cause = 'tpm_da_lockout' AND boot = 1 AND rank = 2") == 1);
  CHECK(count(**st, "SELECT count(*) FROM findings WHERE cause = 'pcr_bank_sha1_only' AND boot = 2 AND rank = 1") == 1);
  CHECK(count(**st, "SELECT count(*) FROM hosts WHERE status = 'incomplete'") == 1);
}

TEST_CASE("store: a host's latest input by default, --all for history; prune forgets gone files", "[store]") {
  TempDb t;
  auto st = Store::open(t.path);
  REQUIRE(st);
  Store& s = **st;
  auto scan = s.begin_scan("test");
  std::string old_path = (t.dir / "old.tgz").string(), new_path = (t.dir / "new.tgz").string();
  { std::ofstream(old_path) << "x"; }
  { std::ofstream(new_path) << "x"; }
  auto older = input(old_path, "h1", "tpm_da_lockout", 0.5);
  auto newer = input(new_path, "h1", "pcr_bank_sha1_only", 0.8);
  newer.mtime_ns = older.mtime_ns + 1;
  REQUIRE(s.record(*scan, newer));  // stored first: the order of scans does not decide
  REQUIRE(s.record(*scan, older));
  REQUIRE(s.record(*scan, input("/gone/h2.tgz", "h2", "tpm_da_lockout", 0.5)));
  Filter f;
  f.host = "h1";
  auto h = s.hosts(f);
  REQUIRE(h);
  REQUIRE(h->size() == 1);
  CHECK((*h)[0].input == new_path);
  CHECK((*h)[0].top_cause == "pcr_bank_sha1_only");
  auto fs = s.findings(f);
  REQUIRE(fs);
  REQUIRE(fs->size() == 1);
  CHECK((*fs)[0].cause == "pcr_bank_sha1_only");
  f.all = true;
  CHECK(s.hosts(f)->size() == 2);
  CHECK(s.findings(f)->size() == 2);
  auto sum = s.summary();
  REQUIRE(sum);
  CHECK(sum->hosts == 2);
  f = {};
  f.host = "h[12]";
  CHECK(s.hosts(f)->size() == 2);

  auto gone = s.prune();
  REQUIRE(gone);
  CHECK(*gone == std::vector<std::string>{"/gone/h2.tgz"});
  CHECK(count(s, "SELECT count(*) FROM hosts WHERE host = 'h2'") == 0);
  CHECK(count(s, "SELECT count(*) FROM evidence") == 2);
  fs::remove(old_path);
  REQUIRE(s.prune());
  CHECK(count(s, "SELECT count(*) FROM inputs") == 1);
}

TEST_CASE("store: merge copies each input from its latest scan, once", "[store]") {
  TempDb a, b, m;
  auto put = [](const std::string& path, std::vector<InputRecord> ins) {
    auto st = Store::open(path);
    REQUIRE(st);
    auto scan = (*st)->begin_scan("worker");
    for (auto& in : ins) REQUIRE((*st)->record(*scan, in));
  };
  put(a.path, {input("/b/h1.tgz", "h1", "tpm_da_lockout", 0.5), input("/b/h2.tgz", "h2", "tpm_da_lockout", 0.5)});
  put(b.path, {input("/b/h3.tgz", "h3", "pcr_bank_sha1_only", 0.7)});
  put(b.path, {input("/b/h1.tgz", "h1", "pcr_bank_sha1_only", 0.9)});  // a later scan of h1
  auto st = Store::open(m.path);
  REQUIRE(st);
  auto scan = (*st)->begin_scan("merge");
  auto n = (*st)->merge(*scan, a.path);
  REQUIRE(n);
  CHECK(*n == 2);
  n = (*st)->merge(*scan, b.path);
  REQUIRE(n);
  CHECK(*n == 2);  // h1 from b replaces a's older scan
  n = (*st)->merge(*scan, b.path);
  REQUIRE(n);
  CHECK(*n == 0);
  CHECK(count(**st, "SELECT count(*) FROM inputs") == 3);
  CHECK(count(**st, "SELECT count(*) FROM findings WHERE host = 'h1' AND cause = 'pcr_bank_sha1_only'") == 1);
  CHECK(count(**st, "SELECT count(*) FROM findings") == 3);
  CHECK(count(**st, "SELECT count(*) FROM evidence") == 3);
  CHECK(count(**st, "SELECT count(*) FROM hosts WHERE bundle LIKE '%IFX%'") == 3);
  CHECK_FALSE((*st)->merge(*scan, (m.dir / "missing.db").string()));
}

TEST_CASE("store: live findings, re-rankings and resolutions become one live input per host", "[store]") {
  TempDb t;
  Cause fw, da;
  fw.id = "tpm_firmware_outdated";
  fw.title = "fw";
  da.id = "tpm_da_lockout";
  da.title = "da";
  auto finding = [](const Cause& c, double conf) {
    Finding f;
    f.cause = &c;
    f.confidence = conf;
    f.host = "esx1";
    f.boot = 1;
    f.fix = {"step one"};
    return f;
  };
  {
    auto ls = LiveStore::open(t.path, "tpmdiag watch");
    REQUIRE(ls);
    auto a = finding(fw, 0.8), b = finding(da, 0.4);
    REQUIRE((*ls)->finding(a, 1));
    REQUIRE((*ls)->finding(b, 2));
    REQUIRE((*ls)->update("esx1", {&b, &a}));  // the lockout now leads
    a.status = FindingStatus::resolved;
    a.resolved_in = 2;
    REQUIRE((*ls)->resolved(a));
    REQUIRE((*ls)->close());
  }
  auto st = Store::open(t.path, Store::Mode::read);
  REQUIRE(st);
  CHECK(count(**st, "SELECT count(*) FROM inputs WHERE kind = 'live' AND path = 'live:esx1'") == 1);
  CHECK(count(**st, "SELECT count(*) FROM findings WHERE cause = 'tpm_da_lockout' AND verdict = 'problem' AND rank = 1") == 1);
  CHECK(count(**st, "SELECT count(*) FROM findings WHERE cause = 'tpm_firmware_outdated' AND verdict = 'resolved' AND rank = 2") == 1);
  CHECK(count(**st, "SELECT count(*) FROM finding WHERE resolved_in = 2 AND fix = '[\"step one\"]'") == 1);
  CHECK(count(**st, "SELECT count(*) FROM hosts WHERE host = 'esx1' AND verdict = 'problem'") == 1);
  CHECK(count(**st, "SELECT count(*) FROM scans WHERE status = 'finished'") == 1);
  auto h = (*st)->hosts();
  REQUIRE(h);
  REQUIRE(h->size() == 1);
  CHECK((*h)[0].top_cause == "tpm_da_lockout");
}

TEST_CASE("store: a PostgreSQL password is never shown nor stored with the command", "[store]") {
  CHECK(redact_uri("postgresql://tpm:s3cret@db.lab/fleet") == "postgresql://tpm@db.lab/fleet");
  CHECK(redact_uri("postgres://tpm@db.lab/fleet") == "postgres://tpm@db.lab/fleet");
  CHECK(redact_uri("postgresql:///fleet?host=/run/pg") == "postgresql:///fleet?host=/run/pg");
  CHECK(redact_uris("tpmdiag scan --db=postgresql://a:b@h/d x.tgz --db postgres://c:d@h/e") ==
        "tpmdiag scan --db=postgresql://a@h/d x.tgz --db postgres://c@h/e");
  CHECK(redact_uris("tpmdiag scan http://u:p@h/x") == "tpmdiag scan http://u:p@h/x");  // not ours to touch
  TempDb t;
  auto st = Store::open(t.path);
  REQUIRE(st);
  REQUIRE((*st)->begin_scan("tpmdiag listen --db postgresql://tpm:s3cret@db/fleet"));
  CHECK(count(**st, "SELECT count(*) FROM scans WHERE command LIKE '%s3cret%'") == 0);
  CHECK(count(**st, "SELECT count(*) FROM scans WHERE command = 'tpmdiag listen --db postgresql://tpm@db/fleet'") == 1);
}
