package ota

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
)

// Command is the first field of an invitation (device-side.md §5.1 step 3;
// U_FLASH, U_FS and U_AUTH in the ESP8266 core's Updater.h).
type Command int

const (
	CommandFlash Command = 0   // application image (espota default)
	CommandFS    Command = 100 // filesystem image (espota --spiffs)
	CommandAuth  Command = 200 // answer to the AUTH challenge
)

// String names the target as the CLI shows it.
func (c Command) String() string {
	switch c {
	case CommandFlash:
		return "app"
	case CommandFS:
		return "spiffs"
	case CommandAuth:
		return "auth"
	}
	return fmt.Sprintf("command %d", int(c))
}

// Defaults from espota.py and ArduinoOTA (device-side.md §5.1, §5.5).
const (
	// DefaultPort is ArduinoOTA's UDP port on the ESP8266 (arduino-esp32
	// uses 3232).
	DefaultPort = 8266
	// DefaultChunk is espota's (ESP8266 flavour) TCP write size.
	DefaultChunk = 1460
	// ServiceType is the DNS-SD service ArduinoOTA advertises.
	ServiceType = "_arduino._tcp"
)

// TXT keys ArduinoOTA's mDNS advertisement carries (MDNSResponder::
// enableArduino, device-side.md §5.5).
const (
	TXTBoard      = "board"       // ARDUINO_BOARD_ID: nodemcuv2, d1_mini, generic…
	TXTAuthUpload = "auth_upload" // "yes" when a password is set
	TXTSSHUpload  = "ssh_upload"  // always "no" on ESP boards
	TXTTCPCheck   = "tcp_check"   // always "no" on ESP boards
)

// Invitation formats the UDP datagram espota sends first:
// "<command> <host port> <size> <md5>\n" (§5.1 step 3).
func Invitation(cmd Command, hostPort, size int, md5hex string) string {
	return fmt.Sprintf("%d %d %d %s\n", int(cmd), hostPort, size, md5hex)
}

// AuthReply formats the answer to an AUTH challenge: "200 <cnonce> <response>\n".
func AuthReply(cnonce, response string) string {
	return fmt.Sprintf("%d %s %s\n", int(CommandAuth), cnonce, response)
}

// MD5Hex is the lower-case hex MD5 of b, as espota and the device print it.
func MD5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// PasswordHash is what ArduinoOTA stores for a password (setPassword, or
// given directly to setPasswordHash): md5_hex of the password's bytes
// (§5.2). The device compares it as lower-case text, so a hash written in
// upper case never authenticates.
func PasswordHash(password string) string { return MD5Hex([]byte(password)) }

// AuthResponse is the challenge answer: md5_hex(H + ":" + nonce + ":" +
// cnonce) with H = PasswordHash(password) (§5.2; ArduinoOTA::_onRx builds
// the same string and compares it in constant time).
func AuthResponse(passwordHash, nonce, cnonce string) string {
	return MD5Hex([]byte(passwordHash + ":" + nonce + ":" + cnonce))
}

// UpdaterError is an ESP8266 Updater error number (Updater.h
// UPDATE_ERROR_*, device-side.md §5.6).
type UpdaterError int

const (
	UpdateOK               UpdaterError = 0
	UpdateWrite            UpdaterError = 1
	UpdateErase            UpdaterError = 2
	UpdateRead             UpdaterError = 3
	UpdateSpace            UpdaterError = 4
	UpdateSize             UpdaterError = 5
	UpdateStream           UpdaterError = 6
	UpdateMD5              UpdaterError = 7
	UpdateFlashConfig      UpdaterError = 8
	UpdateNewFlashConfig   UpdaterError = 9
	UpdateMagicByte        UpdaterError = 10
	UpdateBootstrap        UpdaterError = 11
	UpdateSign             UpdaterError = 12
	UpdateNoData           UpdaterError = 13
	UpdateOOM              UpdaterError = 14
	UpdateRunningAlready   UpdaterError = 15
	UpdateUnknownCommand   UpdaterError = 16
	maxKnownUpdaterError                = UpdateUnknownCommand
	updaterErrorUnknownTxt              = "UNKNOWN"
)

var updaterErrors = [...]struct{ text, fix string }{
	UpdateOK:             {"No Error", "the device aborted without an Updater error: the transfer was cut short (connection lost or stalled); try again closer to the access point"},
	UpdateWrite:          {"Flash Write Failed", "the flash did not take the data; retry, and check the module's power supply"},
	UpdateErase:          {"Flash Erase Failed", "the flash could not be erased; retry, and check the module's power supply"},
	UpdateRead:           {"Flash Read Failed", "the flash could not be read back; retry, and check the module's power supply"},
	UpdateSpace:          {"Not Enough Space", "the image does not fit: an app must fit twice below the filesystem (pick a layout with a smaller filesystem, or shrink the sketch); a filesystem image must be built for the board's layout"},
	UpdateSize:           {"Bad Size Given", "the invitation carried size 0: the file is empty"},
	UpdateStream:         {"Stream Read Timeout", "the data stopped arriving; check the Wi-Fi link and try again"},
	UpdateMD5:            {"MD5 verification failed", "the data arrived corrupted or the MD5 in the invitation is wrong; upload again"},
	UpdateFlashConfig:    {"Flash config wrong", "the running firmware was built for a bigger flash than the chip has; flash it over serial with the right flash size once"},
	UpdateNewFlashConfig: {"new Flash config wrong", "the new image's header claims a bigger flash than the chip has; rebuild it for this board's flash size"},
	UpdateMagicByte:      {"Magic byte is not 0xE9", "the file is not an ESP8266 application image (a filesystem image needs --spiffs)"},
	UpdateBootstrap:      {"Invalid bootstrapping state, reset ESP8266 before updating", "the chip still runs in the boot mode latched by the last serial upload; press RESET (or power-cycle) once, then upload again"},
	UpdateSign:           {"Signature verification failed", "the sketch only accepts signed images: upload the .signed file built with the matching private key"},
	UpdateNoData:         {"No data supplied", "the device received no data; check that nothing closed the connection"},
	UpdateOOM:            {"Out of memory", "the sketch has too little free heap for the 4 KiB update buffer; free memory (close TLS connections in onStart)"},
	UpdateRunningAlready: {"Update already running", "another update is in progress; wait for it or reset the board"},
	UpdateUnknownCommand: {"Unknown update command", "the device does not know this target; check --spiffs"},
}

// Text is the Updater's getErrorString() for this number, without the
// details some errors append (errors 7–9 add sizes or MD5s after ": ").
func (e UpdaterError) Text() string {
	if e < 0 || e > maxKnownUpdaterError {
		return updaterErrorUnknownTxt
	}
	return updaterErrors[e].text
}

// Fix says what to do about this error.
func (e UpdaterError) Fix() string {
	if e < 0 || e > maxKnownUpdaterError {
		return "an error number this tool does not know; read the device's serial log"
	}
	return updaterErrors[e].fix
}
