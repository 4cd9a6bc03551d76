// A small streaming JSON writer that always produces valid JSON.
//
// Log text is untrusted: it may hold NUL bytes, control characters and invalid
// UTF-8. string() escapes controls and replaces each invalid UTF-8 byte with
// U+FFFD, so the output parses whatever the input was.
//
//   JsonWriter w(std::cout);          // compact; JsonWriter w(out, 2) indents
//   w.begin_object();
//   w.key("cause").string("tpm_da_lockout");
//   w.key("confidence").number(0.8);
//   w.key("fix").begin_array().string("step 1").end_array();
//   w.end_object();
//
// Output is gathered in a buffer and written to the stream in large pieces:
// when the buffer passes 64 KiB, when the outermost value closes, and on
// destruction. So a stream shared with other writers sees whole values.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace tpmdiag {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out, int indent = 0) : out_(out), indent_(indent) {}
  ~JsonWriter() { flush(); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& string(std::string_view s);
  JsonWriter& number(double d);
  JsonWriter& integer(int64_t i);
  JsonWriter& boolean(bool b);
  JsonWriter& null();
  // Writes what is buffered to the stream.
  void flush();

  // Appends s as a JSON string literal (with quotes) to out.
  static void escape(std::string_view s, std::string& out);

 private:
  void before_value();
  void newline();
  void done();  // after each value: flush once the outermost one is whole or the buffer full

  std::ostream& out_;
  std::string buf_;
  int indent_;
  // One entry per open container: 1 once it holds an element.
  std::vector<char> has_items_;
  bool after_key_ = false;
};

}  // namespace tpmdiag
