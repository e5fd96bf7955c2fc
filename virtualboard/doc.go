// Package virtualboard is a software ESP8266 and ESP32-family chip that the
// flasher, the monitor and the provisioning pipeline are tested against,
// and that `iotbench virtual-board` serves so that anyone — esptool
// included — can use one without hardware.
//
// It models the hardware rather than mocking the protocol: a UART that
// moves bytes at the configured baud (10 bits per byte) and garbles them
// when the two ends disagree; the DTR/RTS auto-reset circuit and the
// strapping pins latched at reset; the ESP8266 mask ROM with its 74880-baud
// banner, its loader commands, its erase-size bug and its flash-boot trace;
// the ESP32-family ROM loaders (ESP32, S2, S3, C3, C6, H2, …) with four
// status bytes, SPI_ATTACH before flash access, compressed writes read back
// after every block, MD5 in hex, READ_FLASH_SLOW, and the original ESP32's
// drifting ROM clock behind CHANGE_BAUDRATE; the USB-Serial/JTAG
// controller's reset decoding for boards on the chip's own USB port;
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
