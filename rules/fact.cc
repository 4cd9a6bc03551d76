#include "rules/fact.h"

namespace tpmdiag {

std::string_view Fact::field(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

Fields Fact::all_fields() const {
  Fields out = fields;
  if (!rc) return out;
  out.emplace_back("rc_name", rc->name);
  out.emplace_back("rc_kind", rc->kind);
  out.emplace_back("rc_index", std::to_string(rc->index));
  out.emplace_back("rc_layer", rc->layer);
  out.emplace_back("rc_description", rc->description);
  if (!rc->context.empty()) out.emplace_back("rc_context", rc->context);
  return out;
}

std::string Fact::value(std::string_view name) const {
  if (rc && name.substr(0, 3) == "rc_") {
    if (name == "rc_name") return rc->name;
    if (name == "rc_kind") return rc->kind;
    if (name == "rc_index") return std::to_string(rc->index);
    if (name == "rc_layer") return rc->layer;
    if (name == "rc_description") return rc->description;
    if (name == "rc_context") return rc->context;
  }
  return std::string(field(name));
}

}  // namespace tpmdiag
