#include "ib_status.h"

namespace ib {

namespace {

void writeValue(std::string& b, const std::string& v) {
  bool bare = !v.empty();
  for (unsigned char c : v)
    if (c <= 0x20 || c == '"' || c >= 0x7f) bare = false;
  if (bare) {
    b += v;
    return;
  }
  b += '"';
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      b += '\\';
      b += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      b += ' ';
    } else {
      b += char(c);
    }
  }
  b += '"';
}

size_t scanName(const std::string& s, size_t p) {
  if (p >= s.size() || s[p] < 'a' || s[p] > 'z') return p;
  p++;
  while (p < s.size()) {
    char c = s[p];
    if ((c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_') break;
    p++;
  }
  return p;
}

size_t skipSpaces(const std::string& s, size_t p) {
  while (p < s.size() && s[p] == ' ') p++;
  return p;
}

}  // namespace

std::string Status::str() const {
  std::string b = "#IB ";
  b += event;
  for (const auto& f : fields) {
    b += ' ';
    b += f.first;
    b += '=';
    writeValue(b, f.second);
  }
  return b;
}

ParseResult parseStatus(const std::string& in, Status* out) {
  std::string line = in;
  if (!line.empty() && line.back() == '\n') line.pop_back();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line != "#IB" && line.compare(0, 4, "#IB ") != 0) return ParseResult::NotStatus;
  for (unsigned char c : line)
    if (c < 0x20 || c == 0x7f) return ParseResult::Malformed;
  Status s;
  size_t p = skipSpaces(line, 3);
  if (p == line.size()) return ParseResult::Malformed;
  size_t end = scanName(line, p);
  if (end == p || (end < line.size() && line[end] != ' ')) return ParseResult::Malformed;
  s.event = line.substr(p, end - p);
  p = end;
  for (;;) {
    p = skipSpaces(line, p);
    if (p == line.size()) break;
    size_t kEnd = scanName(line, p);
    if (kEnd == p || kEnd == line.size() || line[kEnd] != '=') return ParseResult::Malformed;
    std::string key = line.substr(p, kEnd - p);
    for (const auto& f : s.fields)
      if (f.first == key) return ParseResult::Malformed;
    p = kEnd + 1;
    std::string val;
    if (p < line.size() && line[p] == '"') {
      p++;
      for (;;) {
        if (p >= line.size()) return ParseResult::Malformed;
        char c = line[p];
        if (c == '"') {
          p++;
          if (p < line.size() && line[p] != ' ') return ParseResult::Malformed;
          break;
        }
        if (c == '\\') {
          if (p + 1 >= line.size() || (line[p + 1] != '"' && line[p + 1] != '\\')) return ParseResult::Malformed;
          val += line[p + 1];
          p += 2;
          continue;
        }
        val += c;
        p++;
      }
    } else {
      size_t start = p;
      while (p < line.size() && line[p] != ' ') {
        unsigned char c = line[p];
        if (c == '"' || c >= 0x80) return ParseResult::Malformed;
        p++;
      }
      val = line.substr(start, p - start);
    }
    s.fields.emplace_back(key, val);
  }
  *out = s;
  return ParseResult::Ok;
}

}  // namespace ib
