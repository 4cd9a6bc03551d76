#include "parsers/event.h"

#include <array>
#include <utility>

namespace tpmdiag {

namespace {
constexpr std::array<std::pair<SourceKind, std::string_view>, 12> kKinds{{
    {SourceKind::unknown, "unknown"}, {SourceKind::vmkernel, "vmkernel"},
    {SourceKind::vmkwarning, "vmkwarning"}, {SourceKind::hostd, "hostd"},
    {SourceKind::vpxa, "vpxa"}, {SourceKind::vobd, "vobd"}, {SourceKind::vpxd, "vpxd"},
    {SourceKind::syslog, "syslog"}, {SourceKind::ui, "ui"}, {SourceKind::psod, "psod"},
    {SourceKind::esxcli, "esxcli"}, {SourceKind::bmc, "bmc"},
}};
constexpr std::array<std::pair<Severity, std::string_view>, 9> kSeverities{{
    {Severity::none, "none"}, {Severity::debug, "debug"}, {Severity::info, "info"},
    {Severity::notice, "notice"}, {Severity::warning, "warning"}, {Severity::error, "error"},
    {Severity::critical, "critical"}, {Severity::alert, "alert"}, {Severity::emergency, "emergency"},
}};
}  // namespace

std::string_view kind_name(SourceKind k) {
  for (auto& [kind, name] : kKinds)
    if (kind == k) return name;
  return "unknown";
}

std::optional<SourceKind> kind_from_name(std::string_view name) {
  for (auto& [kind, n] : kKinds)
    if (n == name) return kind;
  return std::nullopt;
}

std::string_view severity_name(Severity s) {
  for (auto& [sev, name] : kSeverities)
    if (sev == s) return name;
  return "none";
}

std::optional<Severity> severity_from_name(std::string_view name) {
  for (auto& [sev, n] : kSeverities)
    if (n == name) return sev;
  return std::nullopt;
}

}  // namespace tpmdiag
