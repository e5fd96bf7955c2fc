package doctor

import (
	"github.com/iotbench/iotbench/firmware"
	"github.com/iotbench/iotbench/serialmon/decode"
)

// An ESP32-family build of the reference firmware speaks TLS through
// arduino-esp32's mbedTLS, which is built without certificate date checks
// (CONFIG_MBEDTLS_HAVE_TIME_DATE off). Its TLS error codes are mbedTLS's
// (the decoder names them with the same advice as BearSSL's), so the
// serial, cloud and probe findings are the same; only a clock outside the
// certificate's validity does not stop the handshake.

// esp32Build reports whether the log's last "#IB boot" line names an
// ESP-IDF target.
func esp32Build(events []decode.Event) bool {
	arch, seen := "", false
	for _, e := range events {
		if e.Kind == decode.IBKind(firmware.EventBoot) {
			arch, seen = e.Fields[firmware.KeyArch], true
		}
	}
	return seen && firmware.IsESP32Arch(arch)
}

// undatedTLS turns the certificate-validity finding of an ESP32 build
// into a warning that explains nothing: the board's TLS ignores the dates,
// so a wrong clock cannot be why it did not connect — but its timestamps
// are wrong, and AWS still checks the certificate against its own clock.
func undatedTLS(fs []Finding, events []decode.Event) []Finding {
	if !esp32Build(events) {
		return fs
	}
	for i := range fs {
		f := &fs[i]
		if f.Code != "cert.validity" {
			continue
		}
		f.Step, f.Severity, f.explains = StepPublish, decode.Warning, nil
		f.Summary += " — not a TLS failure on this ESP32 build (arduino-esp32's mbedTLS does not check certificate dates), but its payload timestamps are wrong"
		f.Fix = "check the NTP server the board syncs from (the time it set is wrong); if the certificate itself expired, AWS refuses it: provision a new one"
	}
	return fs
}
