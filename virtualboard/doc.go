// Package virtualboard is a software ESP8266 (and, for chip detection, the
// ESP32 family's ROM loaders) that the flasher, the monitor and the
// provisioning pipeline are tested against, and that `iotbench
// virtual-board` serves so that anyone — esptool included — can use one
// without hardware.
//
// It models the hardware rather than mocking the protocol: a UART that
// moves bytes at the configured baud (10 bits per byte) and garbles them
// when the two ends disagree; the DTR/RTS auto-reset circuit and the
// strapping pins latched at reset; the ESP8266 mask ROM with its 74880-baud
// banner, its loader commands, its erase-size bug and its flash-boot trace;
// a NOR flash that erases to 0xFF in 4 KiB sectors, programs by clearing
// bits only and charges datasheet latencies; and the esptool flasher stub's
// behaviour once a stub is uploaded and started (the uploaded code itself
// is not executed). Time runs on a virtual clock that can be sped up for
// tests; the default is real time.
//
// Transports: in-process (Board.Port), a pseudo-terminal (ServePTY) and an
// RFC 2217 server on loopback (ServeRFC2217). Fault injection drops or
// corrupts bytes at a rate, mutes the chip, or makes it answer garbage.
package virtualboard
