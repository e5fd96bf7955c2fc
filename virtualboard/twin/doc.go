// Package twin is the virtual board's firmware twin: a virtualboard.App
// that behaves like the reference sketch (firmware/arduino/iotbench) on an
// ESP8266. After a flash boot it prints the sketch's human and #IB lines
// (the same templates, firmware/lines.go), mounts the filesystem image it
// finds at the layout's FS offset in the board's flash with the project's
// LittleFS/SPIFFS readers, reads config.json (firmware.Parse) and the DER
// identity files, joins a simulated Wi-Fi, waits for simulated NTP, and then
// connects with real mutual TLS (crypto/tls, ca.der as the only trust
// anchor, the simulated clock as validation time) and a real MQTT client
// (paho) to the configured endpoint, publishing the firmware's telemetry
// payload on the board clock.
//
// What it prints about TLS and MQTT failures is derived from what happens
// on the wire — a certificate verification error, a TLS alert from the
// broker, a missing CONNACK, a dropped connection — mapped to the
// getLastSSLError() code and text and the PubSubClient state a real board
// reports (device-side.md §3.4–§3.6). Only board-side conditions (which
// Wi-Fi networks are in range, whether NTP answers) are options.
package twin
