package firmware

// Names of the files the reference firmware reads from the root of its
// filesystem (device-side.md §3.2, §6.3). The tool writes identities under
// these names and the firmware twin looks them up by the same constants.
const (
	// CertFile is the client certificate, X.509 DER.
	CertFile = "cert.der"
	// KeyFile is the client private key, DER: PKCS#1 for RSA and SEC 1
	// for EC, the "raw" forms BearSSL's key decoder takes (device-side.md
	// §3.2; it also takes unencrypted PKCS#8, but the raw forms are what
	// `openssl rsa -outform DER` gives and what users compare against).
	KeyFile = "private.der"
	// CAFile is the trust anchor, the root CA's X.509 DER.
	CAFile = "ca.der"
	// ConfigFile is the device configuration (schema in config.go).
	ConfigFile = "config.json"
)

// SerialBaud is the rate the reference firmware passes to Serial.begin():
// 74880, the ROM's own rate with a 26 MHz crystal, so the boot banner and
// the sketch's lines read at one rate (device-side.md §1.1, §6.3).
const SerialBaud = 74880

// SerialBaudESP32 is the reference firmware's rate on ESP32-family chips:
// their ROMs print at 115200 (device-side.md §1.8), and the same reasoning
// — one rate for the ROM and the sketch — gives 115200 there.
const SerialBaudESP32 = 115200
