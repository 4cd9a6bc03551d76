#include "cli/live_store_sink.h"

namespace tpmdiag::cli {

void add_live_db_option(po::options_description& d, std::string& db_path) {
  d.add_options()("db", po::value(&db_path),
                  "FILE: also write findings, resolutions and host state into this fleet store (as 'scan'; "
                  "'tpmdiag db' reads it; input kind live)");
}

std::unique_ptr<StoreTeeSink> StoreTeeSink::open(const std::string& cmd, const std::string& db_path,
                                                 const Args& args, live::Sink& inner) {
  std::unique_ptr<StoreTeeSink> s(new StoreTeeSink(inner));
  if (db_path.empty()) return s;
  std::string command = "tpmdiag " + cmd;
  for (const auto& a : args) command += " " + a;
  auto ls = store::LiveStore::open(db_path, command);
  if (!ls) {
    print_error(ls.error().message);
    return nullptr;
  }
  s->store_ = std::move(*ls);
  return s;
}

void StoreTeeSink::check(const Status& st) {
  if (st || failed_) return;
  failed_ = true;
  inner_.error(st.error().message + " (findings are no longer stored; the stream goes on)");
}

void StoreTeeSink::finding(const Finding& f, int rank) {
  inner_.finding(f, rank);
  if (store_) check(store_->finding(f, rank));
}

void StoreTeeSink::update(const std::string& host, const std::vector<const Finding*>& ranking) {
  inner_.update(host, ranking);
  if (store_) check(store_->update(host, ranking));
}

void StoreTeeSink::resolved(const Finding& f) {
  inner_.resolved(f);
  if (store_) check(store_->resolved(f));
}

void StoreTeeSink::stats(const live::Stats& s) {
  // Written before the stats record: after the final one the process exits
  // at once (exit_after_stop), so the store is complete when it is seen.
  if (store_) check(s.final ? store_->close() : store_->flush(true));
  inner_.stats(s);
}

}  // namespace tpmdiag::cli
