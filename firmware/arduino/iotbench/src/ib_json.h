// Strict JSON reader: the same rules as firmware/json.go (RFC 8259, UTF-8,
// no duplicate keys, no \u0000, no lone surrogates, depth <= 8). Plain
// C++17, no Arduino headers, so the host tests run it as is.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ib {

enum class JsonKind { Null, Bool, Number, String, Array, Object };

struct JsonValue {
  JsonKind kind = JsonKind::Null;
  bool b = false;
  std::string num;  // number literal as written
  std::string str;
  std::vector<std::unique_ptr<JsonValue>> arr;
  std::vector<std::pair<std::string, std::unique_ptr<JsonValue>>> members;

  const JsonValue* get(const std::string& key) const;
  bool isInteger() const;  // no '.', 'e' or 'E' in the literal
};

const int kMaxJsonDepth = 8;

// parseJson returns nullptr and sets *err (a message) when data is not
// strict JSON.
std::unique_ptr<JsonValue> parseJson(const std::string& data, std::string* err);

// appendJsonString writes s quoted: '"' and '\' escaped, \n \r \t, other
// control bytes as \u00XX, everything else as is.
void appendJsonString(std::string& out, const std::string& s);

}  // namespace ib
