// The SQLite fleet store: schema, replace-on-rescan, the findings view,
// migrations, concurrent writers.
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

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

  auto f = s.findings("pcr_bank_sha1_only");
  REQUIRE(f);
  REQUIRE(f->size() == 1);
  CHECK((*f)[0].host == "h1");
  CHECK((*f)[0].confidence == Approx(0.9));
  CHECK((*f)[0].verdict == "problem");
  CHECK((*f)[0].input == "/b/h1.tgz");

  auto h = s.hosts("tpm_da_lockout");
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
