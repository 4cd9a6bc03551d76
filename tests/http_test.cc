// Unit tests for the pieces of tpmdiag serve's HTTP server that parse what a
// client sends (cli/http_server.h, cli/http_multipart.h): the Host check that
// guards against DNS rebinding, percent-decoding, and multipart/form-data.
// The server itself is tested end to end by tests/serve_attack.py.
#include <catch2/catch.hpp>

#include <string>

#include "cli/http_multipart.h"
#include "cli/http_server.h"

using namespace tpmdiag::cli;

TEST_CASE("host_allowed: the loopback names and the bound address, with the port") {
  std::vector<std::string> with_port = {"127.0.0.1", "localhost", "[::1]", "10.0.0.5"};
  CHECK(host_allowed("127.0.0.1:8080", {}, with_port, 8080));
  CHECK(host_allowed("LocalHost:8080", {}, with_port, 8080));
  CHECK(host_allowed("[::1]:8080", {}, with_port, 8080));
  CHECK(host_allowed("10.0.0.5:8080", {}, with_port, 8080));
  CHECK(host_allowed("localhost", {}, with_port, 80));  // no port: 80
  CHECK(host_allowed("localhost:", {}, with_port, 80));
  CHECK_FALSE(host_allowed("localhost", {}, with_port, 8080));
  CHECK_FALSE(host_allowed("127.0.0.1:8081", {}, with_port, 8080));
  CHECK_FALSE(host_allowed("evil.example:8080", {}, with_port, 8080));   // DNS rebinding
  CHECK_FALSE(host_allowed("localhost.evil:8080", {}, with_port, 8080));
  CHECK_FALSE(host_allowed("127.0.0.1.evil:8080", {}, with_port, 8080));
  CHECK_FALSE(host_allowed("[::1:8080", {}, with_port, 8080));
  CHECK_FALSE(host_allowed("[::1]x8080", {}, with_port, 8080));
  CHECK_FALSE(host_allowed("localhost:80a", {}, with_port, 8080));
  CHECK_FALSE(host_allowed("localhost:123456", {}, with_port, 8080));
  CHECK_FALSE(host_allowed(":8080", {}, with_port, 8080));
  CHECK_FALSE(host_allowed("", {}, with_port, 8080));
}

TEST_CASE("host_allowed: --allow-host NAME takes any port, NAME:PORT that port") {
  std::vector<std::string> names = {"tpm.example", "proxy.example:8443", "[fe80::1]"};
  CHECK(host_allowed("tpm.example", names, {}, 8080));
  CHECK(host_allowed("TPM.Example:443", names, {}, 8080));
  CHECK(host_allowed("proxy.example:8443", names, {}, 8080));
  CHECK_FALSE(host_allowed("proxy.example", names, {}, 8080));
  CHECK_FALSE(host_allowed("proxy.example:8080", names, {}, 8080));
  CHECK(host_allowed("[fe80::1]:9", names, {}, 8080));
  CHECK_FALSE(host_allowed("tpm.example.evil", names, {}, 8080));
  CHECK_FALSE(host_allowed("eviltpm.example", names, {}, 8080));
}

TEST_CASE("percent_decode") {
  CHECK(percent_decode("/api/rc/%280x9a2%29", false) == "/api/rc/(0x9a2)");
  CHECK(percent_decode("a+b%20c", true) == "a b c");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK(percent_decode("%0A%1b%00", false) == std::string("\n\x1b\0", 3));
  CHECK(percent_decode("%zz%4", false) == "%zz%4");  // bad escapes kept
  CHECK(percent_decode("%", false) == "%");
  CHECK(percent_decode("%41%", false) == "A%");
}

TEST_CASE("parse_multipart: what browsers and curl -F send") {
  std::string body =
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"host d.log\"\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "line 1\r\nline 2\r\n"
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=text\r\n"
      "\r\n"
      "pasted --XyZ not a boundary\r\n"
      "--XyZ--\r\n";
  std::string err;
  auto parts = parse_multipart("multipart/form-data; boundary=XyZ", body, err);
  REQUIRE(parts);
  REQUIRE(parts->size() == 2);
  CHECK((*parts)[0].name == "file");
  CHECK((*parts)[0].filename == "host d.log");
  CHECK((*parts)[0].content_type == "text/plain");
  CHECK((*parts)[0].content == "line 1\r\nline 2");  // the CRLF before a boundary is the boundary's
  CHECK((*parts)[1].name == "text");
  CHECK((*parts)[1].filename.empty());
  CHECK((*parts)[1].content == "pasted --XyZ not a boundary");
}

TEST_CASE("parse_multipart: quoted boundary, escapes, a preamble, an empty part") {
  std::string body = "preamble\r\n--a b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"q\\\"x.log\"\r\n\r\n\r\n--a b--";
  std::string err;
  auto parts = parse_multipart("Multipart/Form-Data; charset=x; boundary=\"a b\"", body, err);
  REQUIRE(parts);
  REQUIRE(parts->size() == 1);
  CHECK((*parts)[0].filename == "q\"x.log");
  CHECK((*parts)[0].content.empty());
  CHECK(is_multipart("multipart/form-data; boundary=x"));
  CHECK_FALSE(is_multipart("text/plain"));
  CHECK_FALSE(is_multipart(""));
}

TEST_CASE("parse_multipart: malformed bodies say why") {
  std::string err;
  CHECK_FALSE(parse_multipart("multipart/form-data", "--x\r\n\r\nA\r\n--x--", err));
  CHECK(err.find("boundary") != std::string::npos);
  CHECK_FALSE(parse_multipart("multipart/form-data; boundary=x", "no boundary here", err));
  CHECK(err.find("no boundary line") != std::string::npos);
  CHECK_FALSE(parse_multipart("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data\r\n\r\nA", err));
  CHECK(err.find("closing boundary") != std::string::npos);
  CHECK_FALSE(parse_multipart("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data", err));
  CHECK(err.find("header does not end") != std::string::npos);
  CHECK_FALSE(parse_multipart("multipart/form-data; boundary=x", "--xjunk", err));
  CHECK(err.find("CRLF") != std::string::npos);
  CHECK_FALSE(parse_multipart("multipart/form-data; boundary=x", "", err));
}
