// Package image owns the ESP firmware image formats (ESP8266 v1/v2,
// ESP32-family images with extended header and SHA-256): parsing, checksums,
// building, and esptool's rewrite of the flash parameters in header bytes 2–3.
//
// The facts behind it are in ../shared/docs/esp-serial-protocol.md §14 and
// in esptool v4.12.0 (esptool/bin_image.py, esptool/cmds.py and
// esptool/targets/*.py). Where this package deliberately behaves differently
// from esptool, the doc comment of the function says so.
//
// Parse treats its input as untrusted: it never panics, does work linear in
// the input length, and reports everything that is merely unusual (bad
// checksum, wrong chip ID, odd segment lengths, a truncated digest) in the
// returned Image instead of failing, exactly where esptool only warns.
package image
