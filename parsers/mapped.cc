#include "parsers/mapped.h"

#include <algorithm>

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace tpmdiag {

namespace {

// Live mappings, read by the signal handler without locks.
struct Slot {
  std::atomic<uintptr_t> begin{0}, end{0};
  std::atomic<bool> shrank{false};
};
constexpr int kSlots = 256;
Slot g_slots[kSlots];
struct sigaction g_old_bus;
uintptr_t g_page = 4096;

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (auto& s : g_slots) {
    uintptr_t b = s.begin.load(std::memory_order_acquire), e = s.end.load(std::memory_order_acquire);
    if (b == 0 || addr < b || addr >= e) continue;
    // Past the end of a file that shrank: read zeros from here on.
    void* page = reinterpret_cast<void*>(addr & ~(g_page - 1));
    if (::mmap(page, g_page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) break;
    s.shrank.store(true, std::memory_order_relaxed);
    return;
  }
  // Not ours: hand it to whoever had SIGBUS before (the default kills).
  if (g_old_bus.sa_flags & SA_SIGINFO) {
    if (g_old_bus.sa_sigaction) return g_old_bus.sa_sigaction(sig, info, ctx);
  } else if (g_old_bus.sa_handler != SIG_DFL && g_old_bus.sa_handler != SIG_IGN) {
    return g_old_bus.sa_handler(sig);
  }
  ::sigaction(SIGBUS, &g_old_bus, nullptr);  // the fault repeats and takes the default action
}

bool install_handler() {
  static bool ok = [] {
    g_page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    return ::sigaction(SIGBUS, &sa, &g_old_bus) == 0;
  }();
  return ok;
}

}  // namespace

Result<std::unique_ptr<MappedFile>> MappedFile::open(int fd, const std::string& name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return make_error(name + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode) || st.st_size <= 0) return make_error(name + ": not a non-empty regular file");
  if (!install_handler()) return make_error(name + ": cannot install the SIGBUS guard");
  size_t size = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return make_error(name + ": cannot map: " + std::strerror(errno));
  ::madvise(p, size, MADV_SEQUENTIAL);
  auto b = reinterpret_cast<uintptr_t>(p);
  for (int i = 0; i < kSlots; ++i) {
    uintptr_t none = 0;
    if (g_slots[i].begin.compare_exchange_strong(none, b)) {
      g_slots[i].shrank.store(false);
      g_slots[i].end.store(b + size, std::memory_order_release);
      return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const char*>(p), size, name, i));
    }
  }
  ::munmap(p, size);
  return make_error(name + ": too many files mapped at once");
}

MappedFile::MappedFile(const char* data, size_t size, std::string name, int slot)
    : data_(data), size_(size), name_(std::move(name)), slot_(slot) {}

MappedFile::~MappedFile() {
  g_slots[slot_].end.store(0, std::memory_order_release);
  g_slots[slot_].begin.store(0, std::memory_order_release);
  ::munmap(const_cast<char*>(data_), size_);
}

void MappedFile::release(const char* from, const char* to) const {
  auto b = (reinterpret_cast<uintptr_t>(from) + g_page - 1) & ~(g_page - 1);
  auto e = reinterpret_cast<uintptr_t>(to) & ~(g_page - 1);
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

void MappedFile::release_around(const char* from, const char* to) const {
  constexpr uintptr_t kFolio = uintptr_t{2} << 20;  // the largest page cache folio on x86-64 (PMD size)
  auto b = std::max(reinterpret_cast<uintptr_t>(from) & ~(kFolio - 1), reinterpret_cast<uintptr_t>(data_));
  auto e = std::min((reinterpret_cast<uintptr_t>(to) + kFolio - 1) & ~(kFolio - 1),
                    reinterpret_cast<uintptr_t>(data_) + size_);
  if (e > b) release(reinterpret_cast<const char*>(b), reinterpret_cast<const char*>(e));
}

bool MappedFile::shrank() const { return g_slots[slot_].shrank.load(); }

}  // namespace tpmdiag
