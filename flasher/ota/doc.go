// Package ota owns over-the-air updates of ESP8266 (and arduino-esp32)
// boards running ArduinoOTA, as espota.py performs them: the UDP
// invitation, the MD5 challenge authentication, the device connecting back
// over TCP, the chunked upload with the device's byte-count replies and its
// final OK or ERROR text (device-side.md §5.1–5.3, §5.7); and the mDNS
// discovery of `_arduino._tcp` boards (§5.5).
//
// It is protocol code: it never touches the terminal. Upload takes a
// context and reports typed events through a callback, which the CLI
// renders; Discover takes a context and returns the boards that answered. The device side of the same protocol, for the virtual
// board, lives in virtualboard/arduinoota and shares this package's
// protocol constants and the Updater error table.
package ota
