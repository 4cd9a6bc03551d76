#include "kb/rc.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include "common/text.h"
#include <optional>

namespace tpmdiag::rc {

namespace {

struct Entry {
  uint16_t num;  // error number (format 0/1) or full code (TPM 1.2, TSS base)
  std::string_view name;
  std::string_view text;
};

// Format-zero errors: TPM_RC_VER1 (0x100) + num. Names and meanings from TPM 2.0
// Part 2 table 16 as encoded in tpm2-tss tss2_tpm2_types.h.
constexpr Entry kFmt0Errors[] = {
    {0x00, "INITIALIZE", "TPM not initialized by TPM2_Startup or already initialized"},
    {0x01, "FAILURE", "commands not being accepted because of a TPM failure (failure mode)"},
    {0x03, "SEQUENCE", "improper use of a sequence handle"},
    {0x0B, "PRIVATE", "not currently used"},
    {0x19, "HMAC", "not currently used"},
    {0x20, "DISABLED", "the command is disabled"},
    {0x21, "EXCLUSIVE", "command failed because audit sequence required exclusivity"},
    {0x24, "AUTH_TYPE", "authorization handle is not correct for command"},
    {0x25, "AUTH_MISSING", "command requires an authorization session for handle and it is not present"},
    {0x26, "POLICY", "policy failure in math operation or an invalid authPolicy value"},
    {0x27, "PCR", "PCR check fail"},
    {0x28, "PCR_CHANGED", "PCR have changed since checked"},
    {0x2D, "UPGRADE", "TPM is in field-upgrade mode (for TPM2_FieldUpgradeData: it is not)"},
    {0x2E, "TOO_MANY_CONTEXTS", "context ID counter is at maximum"},
    {0x2F, "AUTH_UNAVAILABLE", "authValue or authPolicy is not available for selected entity"},
    {0x30, "REBOOT", "a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation"},
    {0x31, "UNBALANCED", "the protection algorithms (hash and symmetric) are not reasonably balanced"},
    {0x42, "COMMAND_SIZE", "commandSize is inconsistent with the contents of the command buffer"},
    {0x43, "COMMAND_CODE", "command code not supported"},
    {0x44, "AUTHSIZE", "authorizationSize is out of range or the authorization area is larger than required"},
    {0x45, "AUTH_CONTEXT", "authorization session used with a command that cannot have one"},
    {0x46, "NV_RANGE", "NV offset+size is out of range"},
    {0x47, "NV_SIZE", "requested NV allocation size is larger than allowed"},
    {0x48, "NV_LOCKED", "NV access locked"},
    {0x49, "NV_AUTHORIZATION", "NV access authorization failed (does not affect lockout)"},
    {0x4A, "NV_UNINITIALIZED", "NV index used before being initialized, or saved state could not be restored"},
    {0x4B, "NV_SPACE", "insufficient space for NV allocation"},
    {0x4C, "NV_DEFINED", "NV index or persistent object already defined"},
    {0x50, "BAD_CONTEXT", "context in TPM2_ContextLoad is not valid"},
    {0x51, "CPHASH", "cpHash value already set or not correct for use"},
    {0x52, "PARENT", "handle for parent is not a valid parent"},
    {0x53, "NEEDS_TEST", "some function needs testing"},
    {0x54, "NO_RESULT", "an internal function could not process the request (unspecified problem)"},
    {0x55, "SENSITIVE", "the sensitive area did not unmarshal correctly after decryption"},
};

// Format-zero warnings: TPM_RC_WARN (0x900) + num.
constexpr Entry kFmt0Warnings[] = {
    {0x01, "CONTEXT_GAP", "gap for context ID is too large"},
    {0x02, "OBJECT_MEMORY", "out of memory for object contexts"},
    {0x03, "SESSION_MEMORY", "out of memory for session contexts"},
    {0x04, "MEMORY", "out of shared object/session memory or need space for internal operations"},
    {0x05, "SESSION_HANDLES", "out of session handles; a session must be flushed first"},
    {0x06, "OBJECT_HANDLES", "out of object handles; a reboot is required"},
    {0x07, "LOCALITY", "bad locality"},
    {0x08, "YIELDED", "the TPM suspended the command after making progress; it may be retried"},
    {0x09, "CANCELED", "the command was canceled"},
    {0x0A, "TESTING", "TPM is performing self-tests"},
    {0x10, "REFERENCE_H0", "the 1st handle in the handle area references a transient object or session that is not loaded"},
    {0x11, "REFERENCE_H1", "the 2nd handle in the handle area references a transient object or session that is not loaded"},
    {0x12, "REFERENCE_H2", "the 3rd handle in the handle area references a transient object or session that is not loaded"},
    {0x13, "REFERENCE_H3", "the 4th handle in the handle area references a transient object or session that is not loaded"},
    {0x14, "REFERENCE_H4", "the 5th handle in the handle area references a transient object or session that is not loaded"},
    {0x15, "REFERENCE_H5", "the 6th handle in the handle area references a transient object or session that is not loaded"},
    {0x16, "REFERENCE_H6", "the 7th handle in the handle area references a transient object or session that is not loaded"},
    {0x18, "REFERENCE_S0", "the 1st authorization session handle references a session that is not loaded"},
    {0x19, "REFERENCE_S1", "the 2nd authorization session handle references a session that is not loaded"},
    {0x1A, "REFERENCE_S2", "the 3rd authorization session handle references a session that is not loaded"},
    {0x1B, "REFERENCE_S3", "the 4th authorization session handle references a session that is not loaded"},
    {0x1C, "REFERENCE_S4", "the 5th authorization session handle references a session that is not loaded"},
    {0x1D, "REFERENCE_S5", "the 6th authorization session handle references a session that is not loaded"},
    {0x1E, "REFERENCE_S6", "the 7th authorization session handle references a session that is not loaded"},
    {0x20, "NV_RATE", "the TPM is rate limiting accesses to prevent wearout of NV"},
    {0x21, "LOCKOUT", "TPM is in dictionary-attack lockout: authorizations for DA-protected objects are refused"},
    {0x22, "RETRY", "the TPM was not able to start the command"},
    {0x23, "NV_UNAVAILABLE", "the command may require writing of NV and NV is not currently accessible"},
    {0x7F, "NOT_USED", "reserved value that a TPM shall not return"},
};

// Format-one errors: TPM_RC_FMT1 (0x080) + num, plus the P/N adders.
constexpr Entry kFmt1[] = {
    {0x01, "ASYMMETRIC", "asymmetric algorithm not supported or not correct"},
    {0x02, "ATTRIBUTES", "inconsistent attributes"},
    {0x03, "HASH", "hash algorithm not supported or not appropriate"},
    {0x04, "VALUE", "value is out of range or is not correct for the context"},
    {0x05, "HIERARCHY", "hierarchy is not enabled or is not correct for the use"},
    {0x07, "KEY_SIZE", "key size is not supported"},
    {0x08, "MGF", "mask generation function not supported"},
    {0x09, "MODE", "mode of operation not supported"},
    {0x0A, "TYPE", "the type of the value is not appropriate for the use"},
    {0x0B, "HANDLE", "the handle is not correct for the use"},
    {0x0C, "KDF", "unsupported key derivation function or function not appropriate for use"},
    {0x0D, "RANGE", "value was out of allowed range"},
    {0x0E, "AUTH_FAIL", "the authorization HMAC check failed and DA counter incremented"},
    {0x0F, "NONCE", "invalid nonce size or nonce value mismatch"},
    {0x10, "PP", "authorization requires assertion of PP (physical presence)"},
    {0x12, "SCHEME", "unsupported or incompatible scheme"},
    {0x15, "SIZE", "structure is the wrong size"},
    {0x16, "SYMMETRIC", "unsupported symmetric algorithm or key size, or not appropriate for instance"},
    {0x17, "TAG", "incorrect structure tag"},
    {0x18, "SELECTOR", "union selector is incorrect"},
    {0x1A, "INSUFFICIENT", "not enough octets in the input buffer to unmarshal a value"},
    {0x1B, "SIGNATURE", "the signature is not valid"},
    {0x1C, "KEY", "key fields are not compatible with the selected use"},
    {0x1D, "POLICY_FAIL", "a policy check failed"},
    {0x1F, "INTEGRITY", "integrity check failed"},
    {0x20, "TICKET", "invalid ticket"},
    {0x21, "RESERVED_BITS", "reserved bits not set to zero as required"},
    {0x22, "BAD_AUTH", "authorization failure without DA implications"},
    {0x23, "EXPIRED", "the policy has expired"},
    {0x24, "POLICY_CC", "the command code in the policy is not the command's, or is not implemented"},
    {0x25, "BINDING", "public and sensitive portions of an object are not cryptographically bound"},
    {0x26, "CURVE", "curve not supported"},
    {0x27, "ECC_POINT", "point is not on the required curve"},
};

// TPM 1.2 result codes (TPM_BASE 0, TPM_NON_FATAL 0x800), the ones the
// catalogue lists (esxi-tpm-catalogue.md a.8). num is the full code.
constexpr Entry kTpm12[] = {
    {0x001, "TPM_AUTHFAIL", "authentication failed"},
    {0x007, "TPM_DISABLED", "the TPM is disabled"},
    {0x009, "TPM_FAIL", "the operation failed"},
    {0x00A, "TPM_BAD_ORDINAL", "the ordinal (command) was unknown or inconsistent"},
    {0x012, "TPM_NOSRK", "no storage root key (SRK) is set"},
    {0x015, "TPM_RESOURCES", "the TPM lacks the resources for the command"},
    {0x019, "TPM_BAD_PARAM_SIZE", "the command's paramSize is wrong"},
    {0x01C, "TPM_FAILEDSELFTEST", "the TPM failed its self-test"},
    {0x026, "TPM_INVALID_POSTINIT", "command received out of order relative to TPM_Init and TPM_Startup"},
    {0x02D, "TPM_BAD_PRESENCE", "the physical-presence flags have the wrong value"},
    {0x800, "TPM_RETRY", "the TPM is busy; retry the command later"},
    {0x801, "TPM_NEEDS_SELFTEST", "the TPM needs a self-test before this command"},
    {0x802, "TPM_DOING_SELFTEST", "the TPM is running its self-test"},
    {0x803, "TPM_DEFEND_LOCK_RUNNING", "defending against dictionary attacks and in a time-out period"},
};

// TSS base codes (tss2_common.h TSS2_BASE_RC_*), shared by all TSS layers.
constexpr Entry kTssBase[] = {
    {1, "GENERAL_FAILURE", "general failure (not otherwise specified)"},
    {2, "NOT_IMPLEMENTED", "functionality not implemented"},
    {3, "BAD_CONTEXT", "a context structure is bad"},
    {4, "ABI_MISMATCH", "ABI version does not match the called module's"},
    {5, "BAD_REFERENCE", "a pointer is NULL that must not be"},
    {6, "INSUFFICIENT_BUFFER", "a buffer is too small"},
    {7, "BAD_SEQUENCE", "function called in the wrong order"},
    {8, "NO_CONNECTION", "cannot connect to the next lower layer"},
    {9, "TRY_AGAIN", "operation timed out; call the function again"},
    {10, "IO_ERROR", "I/O failure"},
    {11, "BAD_VALUE", "a parameter has a bad value"},
    {12, "NOT_PERMITTED", "operation not permitted"},
    {13, "INVALID_SESSIONS", "sessions sent that the command does not use (or not that many)"},
    {14, "NO_DECRYPT_PARAM", "decrypt session given but the command has no decrypt parameter"},
    {15, "NO_ENCRYPT_PARAM", "encrypt session given but the command has no encrypt parameter"},
    {16, "BAD_SIZE", "a parameter's size is wrong"},
    {17, "MALFORMED_RESPONSE", "the response is malformed"},
    {18, "INSUFFICIENT_CONTEXT", "the context is too small"},
    {19, "INSUFFICIENT_RESPONSE", "the response is too short"},
    {20, "INCOMPATIBLE_TCTI", "unknown or unusable TCTI version"},
    {21, "NOT_SUPPORTED", "functionality not supported"},
    {22, "BAD_TCTI_STRUCTURE", "the TCTI context is bad"},
    {23, "MEMORY", "memory allocation failed"},
    {24, "BAD_TR", "the ESYS_TR object is bad"},
    {25, "MULTIPLE_DECRYPT_SESSIONS", "more than one session has the decrypt attribute"},
    {26, "MULTIPLE_ENCRYPT_SESSIONS", "more than one session has the encrypt attribute"},
    {27, "RSP_AUTH_FAILED", "the response HMAC from the TPM did not verify"},
    {28, "NO_CONFIG", "no configuration available"},
    {29, "BAD_PATH", "the path is bad"},
    {30, "NOT_DELETABLE", "the object cannot be deleted"},
    {31, "PATH_ALREADY_EXISTS", "the path already exists"},
    {32, "KEY_NOT_FOUND", "the key was not found"},
    {33, "SIGNATURE_VERIFICATION_FAILED", "signature verification failed"},
    {34, "HASH_MISMATCH", "hashes do not match"},
    {35, "KEY_NOT_DUPLICABLE", "the key cannot be duplicated"},
    {36, "PATH_NOT_FOUND", "the path was not found"},
    {37, "NO_CERT", "no certificate"},
    {38, "NO_PCR", "no PCR"},
    {39, "PCR_NOT_RESETTABLE", "the PCR cannot be reset"},
    {40, "BAD_TEMPLATE", "the template is bad"},
    {41, "AUTHORIZATION_FAILED", "authorization failed"},
    {42, "AUTHORIZATION_UNKNOWN", "the authorization is unknown"},
    {43, "NV_NOT_READABLE", "the NV index is not readable"},
    {44, "NV_TOO_SMALL", "the NV index is too small"},
    {45, "NV_NOT_WRITEABLE", "the NV index is not writable"},
    {46, "POLICY_UNKNOWN", "the policy is unknown"},
    {47, "NV_WRONG_TYPE", "the NV type is wrong"},
    {48, "NAME_ALREADY_EXISTS", "the name already exists"},
    {49, "NO_TPM", "no TPM available"},
    {50, "BAD_KEY", "the key is bad"},
    {51, "NO_HANDLE", "no handle provided"},
    {52, "NOT_PROVISIONED", "provisioning was not run"},
    {53, "ALREADY_PROVISIONED", "already provisioned"},
};

struct TssLayer {
  uint8_t layer;
  std::string_view name;    // tpm2-tss layer name
  std::string_view prefix;  // TSS2_<prefix>_RC_ macro family, "" if none
  uint64_t declared;        // bit n set: TSS2_<prefix>_RC_<base n> exists (tpm2-tss 3.2 headers)
};

constexpr TssLayer kLayers[] = {
    {0, "tpm", "", 0},
    {6, "fapi", "FAPI", 0x3ffffff080ceaeULL},
    {7, "esapi", "ESYS", 0xfdfeef6ULL},
    {8, "sys", "SYS", 0x5fe8f2ULL},
    {9, "mu", "MU", 0x10862ULL},
    {10, "tcti", "TCTI", 0xa21ffeULL},
    {11, "rmt", "", 0},
    {12, "rm", "", 0},
    {13, "policy", "", 0},
};

template <size_t N>
const Entry* find(const Entry (&table)[N], unsigned num) {
  for (const Entry& e : table)
    if (e.num == num) return &e;
  return nullptr;
}

const TssLayer* find_layer(uint8_t layer) {
  for (const TssLayer& l : kLayers)
    if (l.layer == layer) return &l;
  return nullptr;
}

std::string hex(unsigned v, int width = 2) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", width, v);
  return buf;
}

// Bits 0..11 of a TPM-layer code (layer 0 or 11).
void decode_tpm(uint32_t code, Decoded& d) {
  const unsigned v = code & 0xFFF;
  if (v == 0) {
    d.kind = Kind::success;
    d.name = "TPM_RC_SUCCESS";
    d.description = "success";
    return;
  }
  if (v & 0x080) {  // format one
    d.format = 1;
    const unsigned num = v & 0x3F, n = (v >> 8) & 0xF;
    if (v & 0x040) {
      d.kind = Kind::parameter;
      d.index = n;
    } else if (n & 0x8) {
      d.kind = Kind::session;
      d.index = n & 0x7;
    } else {
      d.kind = Kind::handle;
      d.index = n;
    }
    if (const Entry* e = find(kFmt1, num)) {
      d.name = "TPM_RC_" + std::string(e->name);
      d.description = std::string(e->text);
    } else {
      d.description = "unassigned format-one error number " + hex(num);
    }
    return;
  }
  const unsigned num = v & 0x7F;
  const bool s = v & 0x800;
  if (!(v & 0x100)) {  // V clear: TPM 1.2 result code
    d.kind = Kind::tpm12;
    if (v == 0x01E) {  // TPM 2.0 defines it too: its answer to TPM 1.2 commands
      d.name = "TPM_RC_BAD_TAG";
      d.description = "bad tag: a TPM 2.0 returns this to a TPM 1.2-style command (TPM 1.2 TPM_BADTAG)";
    } else if (const Entry* e = find(kTpm12, v)) {
      d.name = std::string(e->name);
      d.description = "TPM 1.2: " + std::string(e->text);
    } else {
      d.description = std::string(s ? "TPM 1.2 non-fatal result code " : "TPM 1.2 result code ") +
                      hex(v, 3) + " (not in tpmdiag's table)";
    }
    return;
  }
  if (v & 0x400) {  // T set: vendor-defined
    d.kind = Kind::vendor;
    d.description = std::string(s ? "vendor-defined warning " : "vendor-defined error ") + hex(num) +
                    " (see the TPM maker's documentation)";
    return;
  }
  d.kind = s ? Kind::warning : Kind::error;
  const Entry* e = s ? find(kFmt0Warnings, num) : find(kFmt0Errors, num);
  std::string what = e ? std::string(e->text)
                       : std::string(s ? "unassigned TPM 2.0 warning number " : "unassigned TPM 2.0 error number ") + hex(num);
  if (v & 0x200) {  // bit 9 is reserved in format zero: no TCG name applies
    d.description = "reserved bit 9 set, so not a valid TPM 2.0 code; without it: " +
                    (e ? "TPM_RC_" + std::string(e->name) + ", " : std::string()) + what;
    return;
  }
  if (e) d.name = "TPM_RC_" + std::string(e->name);
  d.description = std::move(what);
}

void decode_tss(uint32_t code, Decoded& d) {
  d.kind = Kind::tss;
  const unsigned v = code & 0xFFFF;
  const TssLayer* l = find_layer(d.layer);
  if (v == 0) {
    d.kind = Kind::success;
    d.description = "success";
    return;
  }
  const Entry* e = find(kTssBase, v);
  if (l && e) {
    const bool declared = !l->prefix.empty() && ((l->declared >> v) & 1);
    d.name = std::string(declared ? "TSS2_" : "TSS2_BASE_RC_");
    if (declared) d.name += std::string(l->prefix) + "_RC_";
    d.name += e->name;
    d.description = std::string(l->name) + " layer: " + std::string(e->text);
  } else if (l) {
    d.description = std::string(l->name) + (v >= 0xF800 ? " layer: implementation-specific code " : " layer: unknown code ") + hex(v, 4);
  } else {
    d.description = "code " + hex(v, 4) + " in unknown layer " + std::to_string(d.layer);
  }
}

std::string clip(std::string_view text) {
  std::string out = one_line(text.substr(0, 40));
  if (text.size() > 40) out += "...";
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::success: return "success";
    case Kind::error: return "error";
    case Kind::warning: return "warning";
    case Kind::handle: return "handle";
    case Kind::session: return "session";
    case Kind::parameter: return "parameter";
    case Kind::vendor: return "vendor";
    case Kind::tpm12: return "tpm12";
    case Kind::tss: return "tss";
  }
  return "unknown";
}

std::string layer_name(uint8_t layer) {
  if (const TssLayer* l = find_layer(layer)) return std::string(l->name);
  return std::to_string(layer);
}

std::string format_code(uint32_t code) { return code > 0xFFFF ? hex(code, 8) : hex(code, 3); }

std::string location(const Decoded& d) {
  std::string s(kind_name(d.kind));
  if ((d.kind == Kind::handle || d.kind == Kind::session || d.kind == Kind::parameter) && d.index)
    s += ' ' + std::to_string(d.index);
  return s;
}

Decoded decode(uint32_t code) {
  Decoded d;
  d.raw = code;
  d.layer = static_cast<uint8_t>((code >> 16) & 0xFF);
  d.layer_name = layer_name(d.layer);
  if (d.layer == 0 || d.layer == 11) {
    decode_tpm(code, d);
    // tpm2-tss ignores these bits for TPM codes; say so instead of hiding it.
    if (code & 0xFF00F000) d.description += " (bits outside the layer and the 12-bit TPM code are set)";
  } else {
    decode_tss(code, d);
    if (code & 0xFF000000) d.description += " (bits 24..31 are set)";
  }
  return d;
}

std::optional<uint32_t> code_from_name(std::string_view text) {
  std::string_view s = trim(text);
  for (std::string_view prefix : {"TPM2_RC_", "TPM_RC_"})
    if (s.size() > prefix.size() && iequals(s.substr(0, prefix.size()), prefix)) {
      std::string_view name = s.substr(prefix.size());
      if (iequals(name, "SUCCESS")) return 0;
      // The base value of each: TPM_RC_VER1 + n, TPM_RC_WARN + n, TPM_RC_FMT1 + n.
      for (const Entry& e : kFmt0Errors)
        if (iequals(name, e.name)) return 0x100u + e.num;
      for (const Entry& e : kFmt0Warnings)
        if (iequals(name, e.name)) return 0x900u + e.num;
      for (const Entry& e : kFmt1)
        if (iequals(name, e.name)) return 0x080u + e.num;
      return std::nullopt;
    }
  return std::nullopt;
}

tpmdiag::Result<uint32_t> parse_code(std::string_view text) {
  auto fail = [&](std::string_view why) {
    return make_error("invalid TPM response code '" + clip(text) + "': " + std::string(why));
  };
  std::string_view s = trim(text);
  if (!s.empty() && s.front() == '(') {
    if (s.back() != ')') return fail("unbalanced parenthesis");
    s = trim(s.substr(1, s.size() - 2));
  }
  if (s.empty()) return fail("empty");
  int base = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
    if (s.empty()) return fail("no digits after 0x");
  }
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec == std::errc::result_out_of_range) return fail("larger than 0xffffffff");
  if (ec != std::errc() || end != s.data() + s.size()) {
    bool hexish = base == 10 && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
    return fail(hexish ? "not a number (write hex with 0x, e.g. 0x9a2)" : "not a number");
  }
  return value;
}

tpmdiag::Result<std::vector<Context>> load_context(std::string_view json_text, std::string_view origin) {
  const std::string where(origin);
  auto fail = [&](const std::string& msg) { return make_error(where + ": " + msg); };

  simdjson::dom::parser parser;
  simdjson::padded_string padded(json_text);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root)) return fail(std::string("not valid JSON: ") + simdjson::error_message(err));
  simdjson::dom::object top;
  if (root.get(top)) return fail("the top level must be an object with a 'codes' array");
  for (auto field : top)
    if (field.key != "codes" && field.key != "about") return fail("unknown field '" + clip(field.key) + "'");
  simdjson::dom::array codes;
  if (auto err = top["codes"].get(codes))
    return fail(err == simdjson::NO_SUCH_FIELD ? "field 'codes': missing" : "field 'codes': must be an array");

  std::vector<Context> out;
  size_t i = 0;
  for (simdjson::dom::element item : codes) {
    const std::string at = "codes[" + std::to_string(i++) + "]";
    simdjson::dom::object obj;
    if (item.get(obj)) return fail(at + ": must be an object");
    for (auto field : obj) {
      static constexpr std::array<std::string_view, 6> kKnown = {"code", "command", "context", "cause", "source", "inference"};
      if (std::find(kKnown.begin(), kKnown.end(), field.key) == kKnown.end())
        return fail(at + ": unknown field '" + clip(field.key) + "'");
    }
    // Reads a string field; required ones must be present and non-empty.
    auto text = [&](const char* key, bool required, std::string& dst) -> std::string {
      std::string_view sv;
      auto err = obj[key].get(sv);
      if (err == simdjson::NO_SUCH_FIELD) return required ? at + ": field '" + key + "': missing" : "";
      if (err) return at + ": field '" + key + "': must be a string";
      if (sv.empty()) return at + ": field '" + key + "': must not be empty";
      dst.assign(sv);
      return "";
    };
    Context c;
    std::string code_text;
    struct Field { const char* key; bool required; std::string* dst; };
    for (const Field& f : {Field{"code", true, &code_text}, Field{"command", false, &c.command},
                           Field{"context", true, &c.context}, Field{"cause", false, &c.cause},
                           Field{"source", true, &c.source}}) {
      if (std::string msg = text(f.key, f.required, *f.dst); !msg.empty()) return fail(msg);
    }
    auto code = parse_code(code_text);
    if (!code) return fail(at + ": field 'code': " + code.error().message);
    c.code = *code;
    if (!c.source.starts_with("https://") && !c.source.starts_with("http://"))
      return fail(at + ": field 'source': must be an http(s) URL");
    if (!std::all_of(c.cause.begin(), c.cause.end(), [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'; }))
      return fail(at + ": field 'cause': must be a snake_case cause id");
    if (c.context.find('\n') != std::string::npos) return fail(at + ": field 'context': must be one line");
    auto inf = obj["inference"].get_bool();
    if (inf.error() == simdjson::NO_SUCH_FIELD) return fail(at + ": field 'inference': missing");
    if (inf.error()) return fail(at + ": field 'inference': must be true or false");
    c.inference = inf.value_unsafe();
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<const Context*> find_context(const std::vector<Context>& all, uint32_t code, std::string_view command) {
  std::vector<const Context*> specific, general;
  const bool relayed = ((code >> 16) & 0xFF) == 11;  // rmt: a TPM code relayed by a resource manager
  for (const Context& c : all) {
    bool same = c.code == code || (relayed && c.code <= 0xFFFF && c.code == (code & 0xFFFF) && (code >> 24) == 0);
    if (!same) continue;
    if (c.command.empty() || command.empty())
      general.push_back(&c);
    else if (iequals(c.command, command))
      specific.push_back(&c);
  }
  specific.insert(specific.end(), general.begin(), general.end());
  return specific;
}

}  // namespace tpmdiag::rc
