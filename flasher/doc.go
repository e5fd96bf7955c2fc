// Package flasher owns the ESP serial bootloader protocol: SLIP framing
// (package slip), the request/response layer with each loader's status
// rules, reset strategies, connecting and chip detection, register and SPI
// flash access, and the flash operations (write, erase, read, MD5 verify)
// in ROM and stub mode, reporting progress as typed events.
//
// It knows nothing of terminals or AWS: the CLI and TUI render its events.
// Chip constants live in flasher/target, firmware image formats in
// flasher/image.
package flasher
