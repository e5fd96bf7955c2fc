// The sketch's connection state machine (device-side.md §6.3): Wi-Fi →
// NTP → TLS/MQTT connect with backoff → publish every interval. Pure
// logic: the Arduino layer feeds it the time and what happened, and does
// what step() returns. Never blocks.
#pragma once
#include <cstdint>

#include "ib_time.h"

namespace ib {

enum class State { WaitWiFi, WaitNTP, Connect, Online };
enum class Action { None, Connect, Publish, ReportNTP };

class Machine {
 public:
  explicit Machine(uint32_t publishIntervalMs, uint32_t ntpReportMs = 30000)
      : interval_(publishIntervalMs), ntpReport_(ntpReportMs) {}

  State state() const { return state_; }
  int failures() const { return failures_; }
  // retryInMs is the backoff after the last failed connect.
  uint32_t retryInMs() const { return backoffMs(failures_); }

  // step is called every loop() with millis() and the current facts.
  Action step(uint32_t now, bool wifiUp, bool timeValid, bool mqttConnected) {
    if (!wifiUp) {
      state_ = State::WaitWiFi;
      return Action::None;
    }
    if (state_ == State::WaitWiFi) {
      state_ = State::WaitNTP;
      ntpSince_ = now;
    }
    if (state_ == State::WaitNTP) {
      if (!timeValid) {
        if (now - ntpSince_ >= ntpReport_) {
          ntpSince_ = now;
          return Action::ReportNTP;
        }
        return Action::None;
      }
      state_ = State::Connect;
      nextTry_ = now;
    }
    if (state_ == State::Online && !mqttConnected) {
      state_ = State::Connect;  // connection lost: reconnect at once
      nextTry_ = now;
    }
    if (state_ == State::Connect) {
      if (int32_t(now - nextTry_) < 0) return Action::None;
      return Action::Connect;
    }
    if (int32_t(now - nextPub_) >= 0) {
      nextPub_ = now + interval_;
      return Action::Publish;
    }
    return Action::None;
  }

  // connected reports the outcome of Action::Connect.
  void connected(uint32_t now, bool ok) {
    if (ok) {
      failures_ = 0;
      state_ = State::Online;
      nextPub_ = now;
      return;
    }
    failures_++;
    nextTry_ = now + backoffMs(failures_);
  }

 private:
  State state_ = State::WaitWiFi;
  uint32_t interval_, ntpReport_;
  uint32_t ntpSince_ = 0, nextTry_ = 0, nextPub_ = 0;
  int failures_ = 0;
};

}  // namespace ib
