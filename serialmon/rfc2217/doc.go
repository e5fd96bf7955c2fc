// Package rfc2217 owns the RFC 2217 wire protocol (serial ports over
// Telnet): a client Port that the flasher and the serial monitor open for
// rfc2217:// URLs, and the server side of one connection that the virtual
// board (and any bridge) serves.
//
// The Telnet codec (Decoder and the Append* encoders) is shared by both
// sides and exported so that tests and bridges can speak the protocol at
// byte level without duplicating its escaping rules.
//
// The most common peer is pyserial 3.5 (esptool uses it as a client, and
// esp_rfc2217_server is built on its server half), so where the RFC leaves
// room the behaviour here follows what pyserial sends and expects.
package rfc2217
