#include "parsers/timestamp.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace tpmdiag {

namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> parse_iso8601(std::string_view s, size_t* consumed) {
  int y, mo, d, h, mi, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 16 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != ' ') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return std::nullopt;
  size_t p = 16;
  if (p < s.size() && s[p] == ':') {
    if (!digits(s, p + 1, 2, sec) || sec > 60) return std::nullopt;
    p += 3;
  }
  int ms = 0;
  if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
    size_t q = p + 1;
    int scale = 100;
    while (q < s.size() && s[q] >= '0' && s[q] <= '9') {
      ms += (s[q] - '0') * scale;
      scale /= 10;
      ++q;
    }
    if (q == p + 1) return std::nullopt;
    p = q;
  }
  int64_t offset_min = 0;
  if (p < s.size() && s[p] == 'Z') {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (digits(s, p + 1, 2, oh)) {
      size_t q = p + 3;
      if (q < s.size() && s[q] == ':') ++q;
      if (digits(s, q, 2, om)) {
        offset_min = (s[p] == '-' ? -1 : 1) * (oh * 60 + om);
        p = q + 2;
      }
    }
  }
  if (consumed) *consumed = p;
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  return secs * 1000 + ms;
}

std::optional<Rfc3164Time> parse_rfc3164(std::string_view s, size_t* consumed) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() < 14 || s[3] != ' ') return std::nullopt;
  Rfc3164Time t;
  for (int m = 0; m < 12; ++m)
    if (s.compare(0, 3, kMonths.substr(static_cast<size_t>(m) * 3, 3)) == 0) t.month = m + 1;
  if (t.month == 0) return std::nullopt;
  // Day: "dd" or " d" (RFC 3164 pads with a space); some writers use "d".
  size_t p = 4;
  if (s[p] == ' ') ++p;
  int d1;
  if (!digits(s, p, 1, d1)) return std::nullopt;
  t.day = d1;
  ++p;
  if (p < s.size() && s[p] >= '0' && s[p] <= '9') t.day = t.day * 10 + (s[p++] - '0');
  if (t.day < 1 || t.day > 31 || p >= s.size() || s[p] != ' ') return std::nullopt;
  ++p;
  if (!digits(s, p, 2, t.hour) || p + 8 > s.size() || s[p + 2] != ':' || !digits(s, p + 3, 2, t.minute) ||
      s[p + 5] != ':' || !digits(s, p + 6, 2, t.second))
    return std::nullopt;
  if (t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  p += 8;
  if (p + 1 < s.size() && s[p] == '.' && s[p + 1] >= '0' && s[p + 1] <= '9') {
    int scale = 100;
    for (++p; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p) {
      t.ms += (s[p] - '0') * scale;
      scale /= 10;
    }
  }
  if (consumed) *consumed = p;
  return t;
}

int64_t rfc3164_to_ms(const Rfc3164Time& t, int year) {
  int64_t days = days_from_civil(year, static_cast<unsigned>(t.month), static_cast<unsigned>(t.day));
  return (days * 86400 + t.hour * 3600 + t.minute * 60 + t.second) * 1000 + t.ms;
}

std::optional<int64_t> epoch_to_ms(double v) {
  if (!(v > 0) || v > 1e17) return std::nullopt;  // also rejects NaN
  if (v < 1e11) return static_cast<int64_t>(v * 1000.0 + 0.5);
  if (v < 1e14) return static_cast<int64_t>(v + 0.5);
  return static_cast<int64_t>(v / 1000.0 + 0.5);
}

IsoText iso8601_text(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t rem_ms = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  // civil_from_days (Hinnant)
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  IsoText out;
  if (y >= 0 && y <= 9999) {  // the common case, without printf (reports write two per fact)
    std::memcpy(out.text, "0000-00-00T00:00:00.000Z", 24);
    auto put = [&](int at, int width, int64_t v) {
      for (int i = at + width - 1; i >= at; --i, v /= 10) out.text[i] = static_cast<char>('0' + v % 10);
    };
    put(0, 4, y), put(5, 2, m), put(8, 2, d), put(11, 2, sod / 3600), put(14, 2, sod / 60 % 60),
        put(17, 2, sod % 60), put(20, 3, rem_ms);
    out.size = 24;
    return out;
  }
  int n = std::snprintf(out.text, sizeof out.text, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                        static_cast<long long>(y), m, d, static_cast<long long>(sod / 3600),
                        static_cast<long long>(sod / 60 % 60), static_cast<long long>(sod % 60),
                        static_cast<long long>(rem_ms));
  out.size = n > 0 ? std::min(static_cast<size_t>(n), sizeof out.text - 1) : 0;
  return out;
}

std::string format_iso8601(int64_t ms) { return std::string(iso8601_text(ms).view()); }

}  // namespace tpmdiag
