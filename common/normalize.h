// Text normalisation: what copying from a web page or an HTML mail does to a
// log line, undone before matching (issue 16, "real-world text").
//
// A line copied from a KB article, a forum post or a ticket often differs from
// the log only in invisible ways: its spaces are no-break spaces (U+00A0), it
// carries zero-width characters or a byte-order mark, its quotes are curly.
// Rules are written against the log's ASCII text, so such a line would match
// nothing. normalize_text() maps these characters to ASCII, and only these:
//
//   U+00A0, U+2000..U+200A (incl. U+2007 figure space), U+202F, U+205F,
//   U+3000                          -> ' '  (one space each; runs are kept)
//   U+200B..U+200D, U+2060, U+FEFF,
//   U+00AD (soft hyphen)            -> dropped
//   U+2018 U+2019 U+201A U+201B     -> '\''
//   U+201C U+201D U+201E U+201F     -> '"'
//   U+2010..U+2015, U+2212          -> '-'  (hyphens, dashes, minus sign)
//
// Everything else passes through byte for byte: other UTF-8, and bytes that
// are not valid UTF-8 at all (a truncated or stray sequence is never
// "repaired"). Only complete sequences are mapped, and a continuation byte
// never starts one, so a mapped character is never taken from inside another.
// (One corner: dropping a zero-width character that sits between invalid
// bytes can join them into a sequence a second pass would map; one pass is
// what matching does.)
//
// Usage: normalise the text a rule sees, keep the original for the evidence.
//
//   std::string buf;                                   // reused per line
//   std::string_view text = normalize_text(ev.message, buf);
//   // text == ev.message (the same view) when there was nothing to change,
//   // else a view of buf, valid until buf changes.
//
//   CHECK(normalize_text("TPM\xC2\xA0" "2", buf) == "TPM 2");
//   CHECK(normalize_text("\xE2\x80\x9CTPM\xE2\x80\x9D", buf) == "\"TPM\"");
//
// needs_normalize() is the fast test: on pure ASCII (every byte < 0x80) it
// costs one pass of 8-byte word checks and says false. It is exact: true
// if and only if normalize_text() would return different text.
//
// Both functions are pure: no allocation but buf's, no shared state, never
// throw except when buf cannot grow (std::bad_alloc). They depend only on the
// standard library.
#pragma once

#include <string>
#include <string_view>

namespace tpmdiag {

// True iff normalize_text(s, ...) would change s: s holds at least one of the
// UTF-8 sequences listed above. False at once for pure-ASCII text.
bool needs_normalize(std::string_view s);

// Returns `in` itself when needs_normalize(in) is false; otherwise clears
// `buf`, writes the normalised text into it and returns a view of `buf`.
// The result is never longer than `in` (every mapped sequence is 2 or 3
// bytes and becomes 0 or 1 byte).
std::string_view normalize_text(std::string_view in, std::string& buf);

}  // namespace tpmdiag
