// #IB status lines: the grammar of firmware/status.go (vectors:
// firmware/testdata/status). The firmware only formats; parse exists for
// the shared vectors and for a sketch that wants to read its own log.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace ib {

struct Status {
  std::string event;
  std::vector<std::pair<std::string, std::string>> fields;

  Status& add(const std::string& k, const std::string& v) {
    fields.emplace_back(k, v);
    return *this;
  }
  Status& add(const std::string& k, long long v) { return add(k, std::to_string(v)); }
  // str is the canonical form (no line ending).
  std::string str() const;
};

enum class ParseResult { NotStatus, Ok, Malformed };

ParseResult parseStatus(const std::string& line, Status* out);

}  // namespace ib
