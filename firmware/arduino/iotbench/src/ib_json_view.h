// Read access to a parsed JSON document, the one interface the config
// decoder (ib_config.cpp) is written against. Two documents implement it:
//
//   - ArduinoJson 7 (AjView), what the sketch uses on the board: the issue
//     asks for the library of the field, and the payload is written with it
//     too (ib_payload.cpp).
//   - the strict reader's tree (IbView), what the host tests build with when
//     ArduinoJson is not on the include path (no registry here carries it).
//
// ArduinoJson is lenient: it takes single quotes, unquoted keys and
// duplicate keys, so the board would accept config files iotbench refuses.
// parseConfig therefore runs the strict reader first on both builds and
// hands ArduinoJson only what passed it; the vectors in
// firmware/testdata/config hold the two builds to the Go schema.
#pragma once
#include <string>

#include "ib_json.h"

// On the board (ARDUINO is set by both cores) the sketch always uses
// ArduinoJson; a host build opts in with -DIB_ARDUINOJSON=1 and -I<ArduinoJson>/src.
#if defined(ARDUINO) && !defined(IB_ARDUINOJSON)
#define IB_ARDUINOJSON 1
#endif

#if IB_ARDUINOJSON
// The decoder and the payload pass std::string: both cores have it, but
// ArduinoJson turns it off when a min/max macro is in scope, so say so.
#ifndef ARDUINOJSON_ENABLE_STD_STRING
#define ARDUINOJSON_ENABLE_STD_STRING 1
#endif
#include <ArduinoJson.h>
#include <string.h>
#endif

namespace ib {

// A view is a value or "absent" (a missing member). Every accessor is
// defined on every view, absent ones included, and answers false/empty.
struct IbView {
  const JsonValue* v = nullptr;

  bool present() const { return v != nullptr; }
  bool isObject() const { return v && v->kind == JsonKind::Object; }
  bool isArray() const { return v && v->kind == JsonKind::Array; }
  bool isString() const { return v && v->kind == JsonKind::String; }
  bool isNumber() const { return v && v->kind == JsonKind::Number; }
  IbView member(const char* key) const { return IbView{isObject() ? v->get(key) : nullptr}; }
  size_t size() const { return isArray() ? v->arr.size() : 0; }
  IbView at(size_t i) const { return IbView{i < size() ? v->arr[i].get() : nullptr}; }
  std::string str() const { return isString() ? v->str : std::string(); }

  // firstKeyNotIn returns the first member key (in document order) that
  // allowed(key) refuses, or false when there is none.
  template <class Allowed>
  bool firstKeyNotIn(Allowed allowed, std::string* key) const {
    if (!isObject()) return false;
    for (const auto& m : v->members)
      if (!allowed(m.first)) {
        *key = m.first;
        return true;
      }
    return false;
  }

  // integer is true for an integer literal (no '.', 'e', 'E') that fits a
  // long long; anything else numeric is out of the schema's range.
  bool integer(long long* out) const;
};

#if IB_ARDUINOJSON
struct AjView {
  ArduinoJson::JsonVariantConst v;
  bool there = false;

  bool present() const { return there; }
  bool isObject() const { return there && v.is<ArduinoJson::JsonObjectConst>(); }
  bool isArray() const { return there && v.is<ArduinoJson::JsonArrayConst>(); }
  bool isString() const { return there && v.is<ArduinoJson::JsonString>(); }
  // is<double>() is true for every number ArduinoJson stores, integers too.
  bool isNumber() const { return there && v.is<double>(); }

  // A member present with the value null must not read as absent, so the
  // object is walked instead of using operator[] (which returns null for
  // both).
  AjView member(const char* key) const {
    if (!isObject()) return AjView{};
    for (ArduinoJson::JsonPairConst kv : v.as<ArduinoJson::JsonObjectConst>())
      if (strcmp(kv.key().c_str(), key) == 0) return AjView{kv.value(), true};
    return AjView{};
  }
  size_t size() const { return isArray() ? v.as<ArduinoJson::JsonArrayConst>().size() : 0; }
  AjView at(size_t i) const { return i < size() ? AjView{v.as<ArduinoJson::JsonArrayConst>()[i], true} : AjView{}; }
  std::string str() const {
    if (!isString()) return std::string();
    ArduinoJson::JsonString s = v.as<ArduinoJson::JsonString>();
    return std::string(s.c_str(), s.size());
  }

  template <class Allowed>
  bool firstKeyNotIn(Allowed allowed, std::string* key) const {
    if (!isObject()) return false;
    for (ArduinoJson::JsonPairConst kv : v.as<ArduinoJson::JsonObjectConst>()) {
      std::string k(kv.key().c_str(), kv.key().size());
      if (!allowed(k)) {
        *key = k;
        return true;
      }
    }
    return false;
  }

  // ArduinoJson stores a literal with '.', 'e' or 'E', or one too large for
  // a long long, as a float, and is<long long>() is false for floats: the
  // same split as IbView::integer.
  bool integer(long long* out) const {
    if (!there || !v.is<long long>()) return false;
    *out = v.as<long long>();
    return true;
  }
};
#endif

}  // namespace ib
