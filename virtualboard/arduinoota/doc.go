// Package arduinoota is the device side of OTA updates on the virtual
// ESP8266: what ArduinoOTA, the core's Updater and the eboot second-stage
// loader do on a real board (device-side.md §5, §1.6), so that the
// uploader in flasher/ota — and espota.py — can be tested end to end.
//
// A Device lives as long as the board is powered: it holds the sockets of
// the board's "Wi-Fi station" (the ArduinoOTA UDP port and the mDNS port,
// on loopback by default) and the RTC memory through which the Updater
// tells eboot to copy a staged image. Firmware running on the board (the
// firmware twin, or BasicOTA here) uses it in three steps, as the Arduino
// core does:
//
//   - Boot, first thing after the ROM hands over: eboot prints its version
//     marker and "~ld", or "@cp:0" + "ld" when an update is staged, and
//     copies the staged image over the application first.
//   - Begin, once the sketch is up: ArduinoOTA.begin() — answer
//     invitations and advertise `_arduino._tcp` over mDNS.
//   - Handle, from the sketch's loop: ArduinoOTA.handle() — run an
//     accepted update (the sketch is blocked meanwhile, as on the board),
//     then restart into it.
//
// Updates are written through the board's Flash with its NOR rules and
// timing: an application image is staged in the free space below the
// filesystem and only copied over the running sketch by eboot on the next
// boot, so an interrupted or rejected transfer leaves the old firmware
// bootable; a filesystem image is written in place (device-side.md §5.4).
package arduinoota
