#include "ib_json.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "ib_json_view.h"

namespace ib {

const JsonValue* JsonValue::get(const std::string& key) const {
  for (const auto& m : members)
    if (m.first == key) return m.second.get();
  return nullptr;
}

bool JsonValue::isInteger() const {
  for (char c : num)
    if (c == '.' || c == 'e' || c == 'E') return false;
  return true;
}

bool IbView::integer(long long* out) const {
  if (!isNumber() || !v->isInteger()) return false;
  errno = 0;
  char* end = nullptr;
  long long n = strtoll(v->num.c_str(), &end, 10);
  if (errno == ERANGE || *end != 0) return false;
  *out = n;
  return true;
}

namespace {

bool validUtf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { i++; continue; }
    int len;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (int k = 1; k < len; k++) {
      unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

void appendUtf8(std::string& out, unsigned cp) {
  if (cp < 0x80) out += char(cp);
  else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
  else if (cp < 0x10000) { out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
  else { out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
}

struct Parser {
  const std::string& s;
  size_t p = 0;
  std::string err;

  explicit Parser(const std::string& in) : s(in) {}

  std::unique_ptr<JsonValue> fail(const char* msg) {
    if (err.empty()) err = msg;
    return nullptr;
  }
  void space() {
    while (p < s.size() && (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r')) p++;
  }
  bool hex4(size_t at, unsigned* out) {
    if (at + 4 > s.size()) return false;
    unsigned v = 0;
    for (size_t i = at; i < at + 4; i++) {
      char c = s[i];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return false;
    }
    *out = v;
    return true;
  }
  bool str(std::string* out) {
    p++;
    for (;;) {
      if (p >= s.size()) { fail("unterminated string"); return false; }
      unsigned char c = s[p];
      if (c == '"') { p++; return true; }
      if (c < 0x20) { fail("control character inside a string"); return false; }
      if (c != '\\') { *out += char(c); p++; continue; }
      if (p + 1 >= s.size()) { fail("unterminated string"); return false; }
      char e = s[p + 1];
      p += 2;
      switch (e) {
        case '"': case '\\': case '/': *out += e; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          unsigned r;
          if (!hex4(p, &r)) { fail("\\u must be followed by 4 hex digits"); return false; }
          p += 4;
          if (r == 0) { fail("\\u0000 is not allowed"); return false; }
          if (r >= 0xDC00 && r <= 0xDFFF) { fail("lone low surrogate"); return false; }
          if (r >= 0xD800 && r <= 0xDBFF) {
            unsigned lo;
            if (!(p + 1 < s.size() && s[p] == '\\' && s[p + 1] == 'u' && hex4(p + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF)) {
              fail("lone high surrogate");
              return false;
            }
            p += 6;
            r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
          }
          appendUtf8(*out, r);
          break;
        }
        default: fail("unknown escape"); return false;
      }
    }
  }
  size_t digits() {
    size_t n = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') { p++; n++; }
    return n;
  }
  std::unique_ptr<JsonValue> number() {
    size_t start = p;
    if (s[p] == '-') p++;
    if (p < s.size() && s[p] == '0') {
      p++;
      if (p < s.size() && s[p] >= '0' && s[p] <= '9') return fail("leading zero");
    } else if (digits() == 0) {
      return fail("malformed number");
    }
    if (p < s.size() && s[p] == '.') {
      p++;
      if (digits() == 0) return fail("malformed number");
    }
    if (p < s.size() && (s[p] == 'e' || s[p] == 'E')) {
      p++;
      if (p < s.size() && (s[p] == '+' || s[p] == '-')) p++;
      if (digits() == 0) return fail("malformed number");
    }
    auto v = std::make_unique<JsonValue>();
    v->kind = JsonKind::Number;
    v->num = s.substr(start, p - start);
    return v;
  }
  std::unique_ptr<JsonValue> literal(const char* word, JsonKind k, bool b) {
    std::string w(word);
    if (s.compare(p, w.size(), w) != 0) return fail("unknown word");
    p += w.size();
    auto v = std::make_unique<JsonValue>();
    v->kind = k;
    v->b = b;
    return v;
  }
  std::unique_ptr<JsonValue> value(int depth) {
    if (p >= s.size()) return fail("unexpected end of the file");
    char c = s[p];
    if (c == '{') return object(depth + 1);
    if (c == '[') return array(depth + 1);
    if (c == '"') {
      auto v = std::make_unique<JsonValue>();
      v->kind = JsonKind::String;
      if (!str(&v->str)) return nullptr;
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    if (c == 't') return literal("true", JsonKind::Bool, true);
    if (c == 'f') return literal("false", JsonKind::Bool, false);
    if (c == 'n') return literal("null", JsonKind::Null, false);
    return fail("unexpected character");
  }
  std::unique_ptr<JsonValue> array(int depth) {
    if (depth > kMaxJsonDepth) return fail("nested too deep");
    p++;
    auto v = std::make_unique<JsonValue>();
    v->kind = JsonKind::Array;
    space();
    if (p < s.size() && s[p] == ']') { p++; return v; }
    for (;;) {
      space();
      auto e = value(depth);
      if (!e) return nullptr;
      v->arr.push_back(std::move(e));
      space();
      if (p >= s.size()) return fail("unexpected end of the file");
      if (s[p] == ',') { p++; continue; }
      if (s[p] == ']') { p++; return v; }
      return fail("expected ',' or ']'");
    }
  }
  std::unique_ptr<JsonValue> object(int depth) {
    if (depth > kMaxJsonDepth) return fail("nested too deep");
    p++;
    auto v = std::make_unique<JsonValue>();
    v->kind = JsonKind::Object;
    space();
    if (p < s.size() && s[p] == '}') { p++; return v; }
    for (;;) {
      space();
      if (p >= s.size()) return fail("unexpected end of the file");
      if (s[p] != '"') return fail("expected a key in double quotes");
      std::string k;
      if (!str(&k)) return nullptr;
      if (v->get(k)) return fail("duplicate key");
      space();
      if (p >= s.size() || s[p] != ':') return fail("expected ':'");
      p++;
      space();
      auto e = value(depth);
      if (!e) return nullptr;
      v->members.emplace_back(k, std::move(e));
      space();
      if (p >= s.size()) return fail("unexpected end of the file");
      if (s[p] == ',') { p++; continue; }
      if (s[p] == '}') { p++; return v; }
      return fail("expected ',' or '}'");
    }
  }
};

}  // namespace

std::unique_ptr<JsonValue> parseJson(const std::string& data, std::string* err) {
  if (!validUtf8(data)) {
    *err = "not UTF-8 text";
    return nullptr;
  }
  Parser ps(data);
  ps.space();
  auto v = ps.value(0);
  if (!v) {
    *err = ps.err;
    return nullptr;
  }
  ps.space();
  if (ps.p < data.size()) {
    *err = "unexpected text after the end of the JSON value";
    return nullptr;
  }
  return v;
}

void appendJsonString(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += char(c); }
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += char(c);
  }
  out += '"';
}

}  // namespace ib
