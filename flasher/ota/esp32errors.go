package ota

import "strings"

// ESP32UpdateError is an arduino-esp32 Update error (Update.h
// UPDATE_ERROR_*). Its numbers differ from the ESP8266 Updater's from 7
// on, and the device sends only the text (printError is
// println(errorString())), so a host tells it by its text.
type ESP32UpdateError int

const (
	ESP32UpdateOK          ESP32UpdateError = 0
	ESP32UpdateWrite       ESP32UpdateError = 1
	ESP32UpdateErase       ESP32UpdateError = 2
	ESP32UpdateRead        ESP32UpdateError = 3
	ESP32UpdateSpace       ESP32UpdateError = 4
	ESP32UpdateSize        ESP32UpdateError = 5
	ESP32UpdateStream      ESP32UpdateError = 6
	ESP32UpdateMD5         ESP32UpdateError = 7
	ESP32UpdateMagicByte   ESP32UpdateError = 8
	ESP32UpdateActivate    ESP32UpdateError = 9
	ESP32UpdateNoPartition ESP32UpdateError = 10
	ESP32UpdateBadArgument ESP32UpdateError = 11
	ESP32UpdateAbort       ESP32UpdateError = 12
)

// Updater.cpp's _err2str, with what to do about each.
var esp32UpdateErrors = [...]struct{ text, fix string }{
	ESP32UpdateOK:          {"No Error", "the device aborted without an Update error: the transfer was cut short; try again closer to the access point"},
	ESP32UpdateWrite:       {"Flash Write Failed", "the flash did not take the data; retry, and check the module's power supply"},
	ESP32UpdateErase:       {"Flash Erase Failed", "the flash could not be erased; retry, and check the module's power supply"},
	ESP32UpdateRead:        {"Flash Read Failed", "the flash could not be read back; retry, and check the module's power supply"},
	ESP32UpdateSpace:       {"Not Enough Space", "the image is bigger than the board's OTA slot (or its filesystem partition): shrink the sketch, or use a partition table with bigger app slots (iotbench partitions shows the board's)"},
	ESP32UpdateSize:        {"Bad Size Given", "the invitation carried size 0: the file is empty"},
	ESP32UpdateStream:      {"Stream Read Timeout", "the data stopped arriving; check the Wi-Fi link and try again"},
	ESP32UpdateMD5:         {"MD5 Check Failed", "the data arrived corrupted or the MD5 in the invitation is wrong; upload again"},
	ESP32UpdateMagicByte:   {"Wrong Magic Byte", "the file is not an ESP32 application image (its first byte is not 0xE9); a filesystem image needs --spiffs"},
	ESP32UpdateActivate:    {"Could Not Activate The Firmware", "the new app did not pass the image check (built for another chip, or corrupt): rebuild it for this board's chip (iotbench image-info shows which chip an image is for)"},
	ESP32UpdateNoPartition: {"Partition Could Not be Found", "the board's partition table has no second OTA slot (or no spiffs/fat partition for --spiffs): flash a table with ota_0 and ota_1 over serial once"},
	ESP32UpdateBadArgument: {"Bad Argument", "the device refused the update's parameters; check --spiffs and the file"},
	ESP32UpdateAbort:       {"Aborted", "the sketch aborted the update (Update.abort()); read the device's serial log"},
}

// Text is the device's text for this error ("UNKNOWN" outside the enum).
func (e ESP32UpdateError) Text() string {
	if e < 0 || int(e) >= len(esp32UpdateErrors) {
		return updaterErrorUnknownTxt
	}
	return esp32UpdateErrors[e].text
}

// Fix says what to do about this error.
func (e ESP32UpdateError) Fix() string {
	if e < 0 || int(e) >= len(esp32UpdateErrors) {
		return "an error this tool does not know; read the device's serial log"
	}
	return esp32UpdateErrors[e].fix
}

// esp32UpdateErrorByText finds an arduino-esp32 error by its exact text.
func esp32UpdateErrorByText(s string) (ESP32UpdateError, bool) {
	for i := range esp32UpdateErrors {
		if strings.EqualFold(esp32UpdateErrors[i].text, s) && i != int(ESP32UpdateOK) {
			return ESP32UpdateError(i), true
		}
	}
	return 0, false
}

// Fix says what to do about a device message: the ESP8266 Updater's
// number when it sent one, else an arduino-esp32 text, else the serial
// log.
func (m DeviceMessage) Fix() string {
	if m.HasCode {
		return m.Code.Fix()
	}
	if e, ok := esp32UpdateErrorByText(m.Text); ok {
		return e.Fix()
	}
	return "read the device's serial log"
}
