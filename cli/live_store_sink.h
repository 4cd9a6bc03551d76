// listen --db / watch --db: the live records go to their usual sink (JSON
// Lines) and, as rows, into the fleet store (store/live_store.h), so `db`
// answers for live hosts too. The store's own logic is in store/; this only
// adapts live::Sink to it (store/ and live/ are sibling layers).
//
//   std::string db_path;
//   add_live_db_option(d, db_path);
//   JsonLinesSink json(std::cout);
//   auto sink = StoreTeeSink::open("listen", db_path, args, json);  // nullptr: exit 2 (said why)
//   live::Processor proc(engine, opts, counters, *sink);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "live/sink.h"
#include "store/live_store.h"

namespace tpmdiag::cli {

void add_live_db_option(po::options_description& d, std::string& db_path);

class StoreTeeSink : public live::Sink {
 public:
  // Without a db_path every call only goes to `inner`.
  static std::unique_ptr<StoreTeeSink> open(const std::string& cmd, const std::string& db_path, const Args& args,
                                            live::Sink& inner);
  void finding(const Finding& f, int rank) override;
  void update(const std::string& host, const std::vector<const Finding*>& ranking) override;
  void resolved(const Finding& f) override;
  void error(const std::string& message) override { inner_.error(message); }
  void stats(const live::Stats& s) override;
  bool ok() const override { return inner_.ok(); }

 private:
  explicit StoreTeeSink(live::Sink& inner) : inner_(inner) {}
  void check(const Status& st);  // the first store error becomes one error record
  live::Sink& inner_;
  std::unique_ptr<store::LiveStore> store_;
  bool failed_ = false;
};

}  // namespace tpmdiag::cli
