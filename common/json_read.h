// Helpers for reading our data files (rules, causes, formats) with simdjson,
// turning every mistake into a one-line error that names file and field.
//
//   JsonFields f{path + ": rule 'x'"};          // context for messages
//   std::string id; if (auto s = f.req_string(obj, "id", id); !s) return s.error();
#pragma once

#include <simdjson.h>

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/text.h"

namespace tpmdiag {

struct JsonFields {
  std::string where;   // "rules/x.json: rule 'id'"
  std::string prefix = {};  // prepended to field names: "evidence.trigger[0]."

  Error err(std::string_view field, std::string_view what) const {
    // one line even when a key or a quoted value holds control characters
    return make_error(one_line(where + ": field '" + prefix + std::string(field) + "': " + std::string(what)));
  }
  JsonFields nested(const std::string& field) const { return {where, prefix + field + "."}; }
  Status req_string(simdjson::dom::object o, const char* key, std::string& out) const;
  Status opt_string(simdjson::dom::object o, const char* key, std::string& out) const;
  Status opt_strings(simdjson::dom::object o, const char* key, std::vector<std::string>& out) const;
  Status opt_number(simdjson::dom::object o, const char* key, double& out, double lo, double hi) const;
  Status opt_bool(simdjson::dom::object o, const char* key, bool& out) const;
  Status opt_string_map(simdjson::dom::object o, const char* key,
                        std::map<std::string, std::string>& out) const;
  // {"k": "v" | ["v", ...]} -> map of lists.
  Status opt_string_lists(simdjson::dom::object o, const char* key,
                          std::map<std::string, std::vector<std::string>>& out) const;
  // Fails if o has a key not in `known` (catches typos such as "patern").
  Status only_keys(simdjson::dom::object o, std::initializer_list<std::string_view> known) const;
};

// Parses text as one JSON document; errors name the file.
Result<simdjson::dom::element> parse_json(simdjson::dom::parser& parser, const std::string& path,
                                          const std::string& text);

// The same for a data file whose top level must be an object.
Result<simdjson::dom::object> parse_json_object(simdjson::dom::parser& parser, const std::string& path,
                                                const std::string& text);

}  // namespace tpmdiag
