// Package flasher owns the ESP serial bootloader protocol: SLIP framing
// (package slip), the request/response layer with each loader's status
// rules, reset strategies, connecting and chip detection, register and SPI
// flash access, and the flash operations (write, erase, read, MD5 verify)
// in ROM and stub mode for the ESP8266 and the ESP32 family, and fast
// reflash (writing only the 4 KiB sectors that changed, known from the flash
// ledger in flasher/ledger, from an older file, or from MD5s asked of the
// chip, and verified against the chip afterwards), reporting progress as
// typed events.
//
// It knows nothing of terminals or AWS: the CLI and TUI render its events.
// Chip constants live in flasher/target, firmware image formats in
// flasher/image.
package flasher
