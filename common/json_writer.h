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
//
// A long array's elements can be written on two threads (a report's context
// list runs to tens of MB): the output is the same as one writer's.
//   w.key("context").begin_array();
//   w.items(facts.size(), [&](JsonWriter& part, size_t i) { write_fact(part, facts[i]); });
//   w.end_array();
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace tpmdiag {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out, int indent = 0) : out_(&out), indent_(indent) {}
  ~JsonWriter() { flush(); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;
  // A moved-from writer holds nothing and writes nothing (not even what its
  // destructor would flush).
  JsonWriter(JsonWriter&& o) noexcept { *this = std::move(o); }
  JsonWriter& operator=(JsonWriter&& o) noexcept;

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
  // Writes n elements of the array just begun, each as one(part, i) writes
  // it to the writer it is given, in order. Parts of per_part elements are
  // written on this thread and one more at once, each into its own buffer,
  // and handed to the stream in order; at most a few parts wait. Large parts
  // keep the threads' overhead small; one() must be safe to call from two
  // threads at once (it only reads).
  JsonWriter& items(size_t n, const std::function<void(JsonWriter&, size_t)>& one, size_t per_part = 256);
  // Writes what is buffered to the stream.
  void flush();

  // Appends s as a JSON string literal (with quotes) to out.
  static void escape(std::string_view s, std::string& out);

 private:
  void before_value();
  void newline();
  void done();  // after each value: flush once the outermost one is whole or the buffer full

  // A writer of one part of an array, at this one's place in it: it keeps
  // all it writes (no stream) until splice() hands it on.
  JsonWriter part(bool after_items) const;
  void splice(JsonWriter& part);

  JsonWriter(int indent, std::vector<char> has_items) : out_(nullptr), indent_(indent), has_items_(std::move(has_items)) {}
  std::ostream* out_ = nullptr;  // null for a part
  // The output is bytes [0, used_) of buf_; the rest is room, written through
  // a pointer (each append to a std::string checked for room and ended the
  // string: most of the cost of a report's many short tokens).
  std::string buf_;
  size_t used_ = 0;
  std::string escaped_;  // strings that need escapes, on their way into buf_
  char* room(size_t n) {
    if (buf_.size() - used_ < n) grow(n);
    return buf_.data() + used_;
  }
  void grow(size_t n);
  void put(char c) { *room(1) = c, ++used_; }
  void put(std::string_view s);
  void put_string(std::string_view s);  // quoted and escaped
  int indent_ = 0;
  // One entry per open container: 1 once it holds an element.
  std::vector<char> has_items_;
  bool after_key_ = false;
};

}  // namespace tpmdiag
