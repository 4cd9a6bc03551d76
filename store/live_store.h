// Live findings into the fleet store: what `listen --db` and `watch --db`
// report goes into the same tables as a scan, one input per host (kind
// `live`, path `live:HOST`), so `db` answers for live hosts too.
//
//   auto ls = LiveStore::open("fleet.db", "tpmdiag listen ...");
//   ls->finding(f, rank);        // from the live sink's calls (cli/ adapts)
//   ls->resolved(f);
//   ls->close();                 // writes the hosts changed since the last flush
//
// The live layer's Sink (live/sink.h) is adapted in cli/: store/ and live/
// are sibling layers. Writes are batched and run on a thread of their own:
// the hosts changed in the last second go to it as one transaction, so the
// caller (the live processor, and its JSON records) never waits on the
// database; while a transaction runs, the next changes gather behind it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "kb/report.h"
#include "store/store.h"

namespace tpmdiag::store {

class LiveStore {
 public:
  static Result<std::unique_ptr<LiveStore>> open(const std::string& path, const std::string& command);
  ~LiveStore();

  // rank: the cause's place among the host's open causes (1 = likeliest).
  // Each returns flush(): the store's state, written at most once a second.
  Status finding(const Finding& f, int rank);
  Status update(const std::string& host, const std::vector<const Finding*>& ranking);
  Status resolved(const Finding& f);
  // Hands the changed hosts to the writer if a second has passed since the
  // last time (always with force); the first error of a write is kept and
  // returned from then on.
  Status flush(bool force = false);
  // Waits for every write, then ends the scan row.
  Status close();

  static std::string input_path(const std::string& host) { return "live:" + host; }

 private:
  LiveStore() = default;
  struct HostState {
    // (cause, boot) -> the finding; live rank of open causes by cause.
    std::map<std::pair<std::string, int>, FindingRecord> findings;
    std::map<std::string, int> live_rank;
    int64_t first_ms = 0;
  };
  InputRecord record_of(const std::string& host, const HostState& h) const;
  void write_loop();
  Status status();
  std::unique_ptr<Store> db_;
  int64_t scan_id_ = 0;
  std::map<std::string, HostState> hosts_;
  std::set<std::string> dirty_;
  std::chrono::steady_clock::time_point last_flush_{};
  bool closed_ = false;
  // Shared with the writer thread, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, InputRecord> pending_;  // host -> its latest state, not written yet
  bool stop_ = false;
  Status status_ = ok_status();
  std::thread writer_;
};

}  // namespace tpmdiag::store
