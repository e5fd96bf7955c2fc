// Package decode turns an ESP board's serial log into typed events: the ROM
// banner and loader trace, crash reports (decoded against an ELF), and the
// milestones and failures of Wi-Fi, NTP, TLS, MQTT, heap, watchdogs and the
// reference firmware's #IB lines.
//
// Everything here is a pure function of the lines fed in (the monitor
// session that reads the port lives elsewhere); nothing prints. The facts
// come from ../shared/docs/device-side.md (§0–§4, §6.4); strings the device
// prints are matched byte for byte, modulo a trailing "\r".
//
// # Decoder
//
// A Decoder takes one line at a time (Line) and returns Events. It keeps
// state only where the log does:
//
//   - multi-line blocks: the ESP8266 core's crash report from the "CUT HERE"
//     line to the closing one (or, for older cores, from the header to
//     "<<<stack<<<"), HWDT stack dumps, ESP32 "Guru Meditation" reports with
//     their register dump and Backtrace (up to "ELF file SHA256:" or
//     "Rebooting..."), and ROM loader traces (ESP8266 until "csum", ESP32
//     until "entry");
//   - per boot: whether the application has printed anything (for the
//     "restart while the download-mode latch is set" diagnosis), whether
//     Wi-Fi and TLS are up, the arch of the "#IB boot" line (an ESP32
//     build's TLS codes are mbedTLS's, an ESP8266 build's BearSSL's), the
//     last lines printed (for hardware-watchdog resets, which leave no
//     report), repeated ROM errors;
//   - across boots: the times of reset banners (reset-loop detection).
//
// ESP32-family boots also go through ESP-IDF's second-stage bootloader,
// whose log lines ("E (123) boot_comm: mismatch chip ID, expected 5,
// found 9", colour codes stripped) say why it refused the app: they
// decode to boot.* kinds until the application prints (idfboot.go), and
// E lines of a running ESP-IDF app that nothing else explains to
// idf.error.
//
// Reset banners are searched anywhere in a line, since reset noise precedes
// them, and close any open block (reported as cut short). Memory is bounded:
// lines are decoded from their first 4096 bytes, evidence lines are clipped
// to 512 bytes, a block is emitted (Fields["truncated"]="1") after 1024
// lines, a block that sees 16 unrelated lines in a row is emitted as cut
// short, and at most 128 stack words are kept as frames.
//
// # Crash addresses
//
// On the ESP8266 (CALL0 ABI) every stack word that is a code address is a
// candidate frame, in stack order, top first, like the existing decoders:
// with an ELF (Options.Symbols, from LoadELF) a word counts when it falls in
// an executable section of the ELF or in the chip's mask ROM; without one,
// when it is in 0x40000000–0x402fffff (PlatformIO's range). ESP32 backtraces
// are taken as printed. Symbols resolves addresses with debug/elf and
// debug/dwarf only: function, file and line, inlined callers included, the
// same answers as `xtensa-lx106-elf-addr2line -pfiaC` (see testdata/).
//
// # Plotter
//
// Series and SeriesParser turn lines into named numeric samples for a
// plot; the rules are documented on SeriesParser.
package decode
