package decode

import (
	"fmt"
	"strconv"
	"strings"
)

// The tables of device-side.md, in code. Each lookup function also answers
// for values the tables do not list.

// --- ESP8266 ROM (§1.3, §1.4) ---

type named struct{ name, words string }

var rstCause8266 = map[int]named{
	0: {"NO_MEAN", "reset cause 0 (never seen normally)"},
	1: {"POWERON_RESET", "power-on reset"},
	2: {"EXT_RESET", "external reset"},
	3: {"SW_RESET", "software reset"},
	4: {"OWDT_RESET", "hardware watchdog reset"},
	5: {"DEEPSLEEP_RESET", "deep-sleep wake"},
	6: {"SDIO_RESET", "SDIO reset"},
}

// RSTCause8266 names an ESP8266 ROM "rst cause" (name, words).
func RSTCause8266(n int) (name, words string) {
	if c, ok := rstCause8266[n]; ok {
		return c.name, c.words
	}
	return "UNKNOWN", fmt.Sprintf("unknown reset cause %d (the ROM halts on it)", n)
}

// BootMode8266 explains the strap value A of "boot mode:(A,B)": the mode
// ("flash", "download", "sdio", "invalid"), words, and the fix when the
// straps are wrong.
func BootMode8266(a int) (mode, words, fix string) {
	switch {
	case a == 3:
		return "flash", "booting from flash", ""
	case a == 1:
		return "download", "download mode: GPIO0 held low", "if you did not mean to flash: release GPIO0 (the FLASH/BOOT button) and press RESET"
	case a == 0:
		return "invalid", "strap fault: GPIO0 and GPIO2 low", "GPIO2 must be high at reset: remove what pulls GPIO2 low (pull it up with 10 kΩ)"
	case a == 2:
		return "invalid", "strap fault: GPIO2 low", "GPIO2 must be high at reset: remove what pulls GPIO2 low (pull it up with 10 kΩ)"
	case a >= 4 && a <= 7:
		return "sdio", "SDIO boot: GPIO15 high", "GPIO15 must be pulled low at reset (10 kΩ to GND); check what is wired to GPIO15/D8"
	}
	return "invalid", fmt.Sprintf("boot mode %d out of range", a), ""
}

// --- ESP32 family ROM (§1.8) ---

var rstName32 = map[string]string{
	"POWERON_RESET":          "power-on reset",
	"SW_RESET":               "software reset of the digital core",
	"OWDT_RESET":             "legacy watchdog reset",
	"DEEPSLEEP_RESET":        "deep-sleep wake",
	"SDIO_RESET":             "SDIO reset",
	"TG0WDT_SYS_RESET":       "timer-group-0 watchdog reset (task/interrupt watchdog)",
	"TG1WDT_SYS_RESET":       "timer-group-1 watchdog reset (interrupt watchdog)",
	"RTCWDT_SYS_RESET":       "RTC watchdog reset (digital core)",
	"INTRUSION_RESET":        "intrusion-test reset",
	"TGWDT_CPU_RESET":        "timer-group watchdog reset of a CPU",
	"SW_CPU_RESET":           "software CPU reset (esp_restart() or a panic's reboot)",
	"RTCWDT_CPU_RESET":       "RTC watchdog reset (CPU)",
	"EXT_CPU_RESET":          "APP CPU reset by the PRO CPU",
	"RTCWDT_BROWN_OUT_RESET": "brown-out reset: the supply voltage dropped",
	"RTCWDT_RTC_RESET":       "RTC watchdog reset (digital and RTC)",
	"RTC_SW_SYS_RESET":       "software system reset",
	"SUPER_WDT_RESET":        "super watchdog reset",
	"USB_UART_CHIP_RESET":    "reset through the USB-UART bridge",
	"USB_JTAG_CHIP_RESET":    "reset through USB-Serial/JTAG",
}

// rstNum32 is the original ESP32's numbering (newer chips use another).
var rstNum32 = map[int]string{
	0x1: "POWERON_RESET", 0x3: "SW_RESET", 0x4: "OWDT_RESET", 0x5: "DEEPSLEEP_RESET",
	0x6: "SDIO_RESET", 0x7: "TG0WDT_SYS_RESET", 0x8: "TG1WDT_SYS_RESET", 0x9: "RTCWDT_SYS_RESET",
	0xa: "INTRUSION_RESET", 0xb: "TGWDT_CPU_RESET", 0xc: "SW_CPU_RESET", 0xd: "RTCWDT_CPU_RESET",
	0xe: "EXT_CPU_RESET", 0xf: "RTCWDT_BROWN_OUT_RESET", 0x10: "RTCWDT_RTC_RESET",
}

// ResetCause32 explains an ESP32-family "rst:0xN (NAME)". The printed name
// is authoritative (the numbering differs between chips); when it is
// missing or unknown, the original ESP32's numbering is used for chip
// "ESP32" or "".
func ResetCause32(chip string, n int, printed string) (name, words string) {
	if w, ok := rstName32[printed]; ok {
		return printed, w
	}
	if chip == "" || strings.EqualFold(chip, "ESP32") {
		if nm, ok := rstNum32[n]; ok {
			return nm, rstName32[nm]
		}
	}
	if printed != "" {
		return printed, fmt.Sprintf("reset cause 0x%x (%s)", n, printed)
	}
	return "UNKNOWN", fmt.Sprintf("reset cause 0x%x", n)
}

// BootMode32 explains the strap string of "boot:0xNN (MODE)".
func BootMode32(mode string) (kind, words, fix string) {
	switch {
	case strings.Contains(mode, "FAST_FLASH_BOOT"):
		return "flash", "booting from flash", ""
	case strings.HasPrefix(mode, "DOWNLOAD"):
		return "download", "download mode: GPIO0 held low", "if you did not mean to flash: release GPIO0 (the BOOT button) and press EN/RESET"
	case mode == "SPI_FLASH_BOOT" || mode == "HSPI_FLASH_BOOT" || strings.HasPrefix(mode, "SDIO_") || mode == "ATE_BOOT":
		return "invalid", "strap fault: " + mode, "check the strapping pins: GPIO2 must not be high while GPIO0 is low, and GPIO12 (MTDI) must be low at reset"
	}
	return "invalid", "unrecognised boot mode " + mode, "check the strapping pins (GPIO0, GPIO2, GPIO12, GPIO15)"
}

// strapBits32 names the ESP32 GPIO_STRAP bits (set = high at reset).
var strapBits32 = []struct {
	bit  int
	name string
}{{0x10, "GPIO0"}, {0x08, "GPIO2"}, {0x04, "GPIO4"}, {0x01, "GPIO5"}, {0x20, "GPIO12"}, {0x02, "GPIO15"}}

func straps32(v int) string {
	var parts []string
	for _, s := range strapBits32 {
		lv := "L"
		if v&s.bit != 0 {
			lv = "H"
		}
		parts = append(parts, s.name+"="+lv)
	}
	return strings.Join(parts, " ")
}

// --- SDK reset reasons (§1.3) ---

var sdkReason = map[int]named{
	0: {"REASON_DEFAULT_RST", "Power On"},
	1: {"REASON_WDT_RST", "Hardware Watchdog"},
	2: {"REASON_EXCEPTION_RST", "Exception"},
	3: {"REASON_SOFT_WDT_RST", "Software Watchdog"},
	4: {"REASON_SOFT_RESTART", "Software/System restart"},
	5: {"REASON_DEEP_SLEEP_AWAKE", "Deep-Sleep Wake"},
	6: {"REASON_EXT_SYS_RST", "External System"},
}

// SDKResetReason names the SDK's rst_info.reason (ESP.getResetReason()).
func SDKResetReason(n int) (name, text string) {
	if r, ok := sdkReason[n]; ok {
		return r.name, r.words
	}
	return "UNKNOWN", "Unknown"
}

// --- Xtensa EXCCAUSE (§2.3) ---

type excCause struct {
	name  string
	what  string
	vaddr bool // EXCVADDR holds the faulting address
}

var excCauses = map[int]excCause{
	0:  {"IllegalInstructionCause", "tried to execute an invalid opcode (often a jump into data, a corrupt function pointer, or code in flash while the flash cache was off)", false},
	1:  {"SyscallCause", "SYSCALL executed (GDB stub break)", false},
	2:  {"InstructionFetchErrorCause", "physical/data error while fetching an instruction", true},
	3:  {"LoadStoreErrorCause", "physical/data error on load/store — on the ESP8266 typically an 8/16-bit read from flash/IRAM (PROGMEM accessed like RAM)", true},
	4:  {"Level1InterruptCause", "level-1 interrupt (shows up in Soft WDT reports)", false},
	5:  {"AllocaCause", "MOVSP with caller registers not in the register file", false},
	6:  {"IntegerDivideByZeroCause", "integer division by zero", false},
	8:  {"PrivilegedCause", "privileged instruction while not in ring 0", false},
	9:  {"LoadStoreAlignmentCause", "unaligned load/store (e.g. a byte buffer cast to uint32_t*)", true},
	12: {"InstrPIFDataErrorCause", "PIF data error on instruction fetch", true},
	13: {"LoadStorePIFDataErrorCause", "synchronous PIF data error on load/store", true},
	14: {"InstrPIFAddrErrorCause", "PIF address error on instruction fetch", true},
	15: {"LoadStorePIFAddrErrorCause", "synchronous PIF address error on load/store", true},
	16: {"InstTLBMissCause", "instruction TLB refill error", true},
	17: {"InstTLBMultiHitCause", "several instruction TLB entries matched", true},
	18: {"InstFetchPrivilegeCause", "instruction fetch at a lower ring than CRING", true},
	20: {"InstFetchProhibitedCause", "fetch from a page that forbids execution (a jump to a bad address)", true},
	24: {"LoadStoreTLBMissCause", "TLB refill error on load/store", true},
	25: {"LoadStoreTLBMultiHitCause", "several TLB entries matched on load/store", true},
	26: {"LoadStorePrivilegeCause", "load/store at a lower ring than CRING", true},
	28: {"LoadProhibitedCause", "read from an address that forbids loads (invalid or NULL pointer read)", true},
	29: {"StoreProhibitedCause", "write to an address that forbids stores (invalid or NULL pointer write)", true},
}

// ExcCause names an Xtensa EXCCAUSE value: name, what happened, and whether
// EXCVADDR holds the faulting address.
func ExcCause(n int) (name, what string, vaddr bool) {
	if c, ok := excCauses[n]; ok {
		return c.name, c.what, c.vaddr
	}
	if n >= 32 && n <= 39 {
		return fmt.Sprintf("Coprocessor%dDisabled", n-32), fmt.Sprintf("coprocessor %d instruction while the coprocessor is disabled", n-32), false
	}
	if n >= 0 && n <= 63 {
		return "reserved", fmt.Sprintf("reserved exception cause %d", n), false
	}
	return "unknown", fmt.Sprintf("exception cause %d is outside the Xtensa range 0–63", n), false
}

// excCauseByName maps an ESP-IDF panic reason ("LoadProhibited",
// "InstrFetchProhibited") to EXCCAUSE.
func excCauseByName(reason string) (int, bool) {
	r := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(reason), "Cause"))
	aliases := map[string]int{"instrfetchprohibited": 20, "instrfetchprivilege": 18, "instructionfetcherror": 2}
	if n, ok := aliases[r]; ok {
		return n, true
	}
	for n, c := range excCauses {
		if strings.ToLower(strings.TrimSuffix(c.name, "Cause")) == r {
			return n, true
		}
	}
	return 0, false
}

// --- BearSSL (§3.4, §3.5) ---

type sslErr struct{ name, text, hint string }

const (
	hintClientCert = "AWS rejected the client certificate: it is not registered, INACTIVE or REVOKED in AWS IoT, or private.der does not match cert.der — check the certificate's status and that the key belongs to it (iotbench doctor), then re-provision"
	hintDERFiles   = "a certificate could not be decoded: check that ca.der, cert.der and private.der are complete DER (or PEM) files and that the filesystem image holds the right ones"
	hintCA         = "the server chain does not lead to ca.der: for the AWS IoT ATS endpoint (…-ats.iot.<region>.amazonaws.com) use Amazon Root CA 1 (RSA) as ca.der — not VeriSign G5 (legacy endpoint), not Root CA 3 alone, not the device certificate — and check that ca.der is present and parses"
)

var sslErrs = map[int]sslErr{
	0:     {"BR_ERR_OK", "Unknown error code.", "no BearSSL error: the failure was below TLS — DNS lookup of the endpoint, TCP connect to port 8883 refused or timed out (outbound 8883 blocked?), the peer closed the connection mid-handshake, or the handshake timed out; a build with Debug port Serial + Debug level SSL prints BSSL: lines that tell which"},
	1:     {"BR_ERR_BAD_PARAM", "Caller-provided parameter is incorrect.", "the sketch passed a bad parameter to BearSSL"},
	2:     {"BR_ERR_BAD_STATE", "Operation requested by the caller cannot be applied with the current context state (e.g. reading data while outgoing data is waiting to be sent).", "the TLS engine was used in the wrong state"},
	3:     {"BR_ERR_UNSUPPORTED_VERSION", "Incoming protocol or record version is unsupported.", "the server wants a TLS version BearSSL does not speak (BearSSL has no TLS 1.3)"},
	4:     {"BR_ERR_BAD_VERSION", "Incoming record version does not match the expected version.", "TLS protocol error from the server"},
	5:     {"BR_ERR_BAD_LENGTH", "Incoming record length is invalid.", "TLS protocol error: not a TLS server on that port?"},
	6:     {"BR_ERR_TOO_LARGE", "Incoming record is too large to be processed, or buffer is too small for the handshake message to send.", "the receive buffer is smaller than a server record: keep the default 16384-byte receive buffer (setBufferSizes) unless probeMaxFragmentLength() said the server accepts a smaller one"},
	7:     {"BR_ERR_BAD_MAC", "Decryption found an invalid padding, or the record MAC is not correct.", "corrupted TLS record (bad link or a middlebox)"},
	8:     {"BR_ERR_NO_RANDOM", "No initial entropy was provided, and none can be obtained from the OS.", "no entropy source for TLS"},
	9:     {"BR_ERR_UNKNOWN_TYPE", "Incoming record type is unknown.", "TLS protocol error: not a TLS server on that port?"},
	10:    {"BR_ERR_UNEXPECTED", "Incoming record or message has wrong type with regards to the current engine state.", "TLS protocol error from the server"},
	12:    {"BR_ERR_BAD_CCS", "ChangeCipherSpec message from the peer has invalid contents.", "TLS protocol error from the server"},
	13:    {"BR_ERR_BAD_ALERT", "Alert message from the peer has invalid contents (odd length).", "TLS protocol error from the server"},
	14:    {"BR_ERR_BAD_HANDSHAKE", "Incoming handshake message decoding failed.", "TLS handshake message could not be decoded"},
	15:    {"BR_ERR_OVERSIZED_ID", "ServerHello contains a session ID which is larger than 32 bytes.", "TLS protocol error from the server"},
	16:    {"BR_ERR_BAD_CIPHER_SUITE", "Server wants to use a cipher suite that we did not claim to support. This is also reported if we tried to advertise a cipher suite that we do not support.", "no common cipher suite: do not restrict the ciphers (setCiphers*) more than the server allows"},
	17:    {"BR_ERR_BAD_COMPRESSION", "Server wants to use a compression that we did not claim to support.", "TLS protocol error from the server"},
	18:    {"BR_ERR_BAD_FRAGLEN", "Server's max fragment length does not match client's.", "max-fragment-length negotiation failed: use the default buffer sizes"},
	19:    {"BR_ERR_BAD_SECRENEG", "Secure renegotiation failed.", "TLS renegotiation failed"},
	20:    {"BR_ERR_EXTRA_EXTENSION", "Server sent an extension type that we did not announce, or used the same extension type several times in a single ServerHello.", "TLS protocol error from the server"},
	21:    {"BR_ERR_BAD_SNI", "Invalid Server Name Indication contents (when used by the server, this extension shall be empty).", "TLS protocol error (SNI)"},
	22:    {"BR_ERR_BAD_HELLO_DONE", "Invalid ServerHelloDone from the server (length is not 0).", "TLS protocol error from the server"},
	23:    {"BR_ERR_LIMIT_EXCEEDED", "Internal limit exceeded (e.g. server's public key is too large).", "a server key or message exceeds BearSSL's limits"},
	24:    {"BR_ERR_BAD_FINISHED", "Finished message from peer does not match the expected value.", "handshake integrity check failed (corrupted link?)"},
	25:    {"BR_ERR_RESUME_MISMATCH", "Session resumption attempt with distinct version or cipher suite.", "drop the saved TLS session (setSession) and connect afresh"},
	26:    {"BR_ERR_INVALID_ALGORITHM", "Unsupported or invalid algorithm (ECDHE curve, signature algorithm, hash function).", "the server chose an algorithm BearSSL rejects"},
	27:    {"BR_ERR_BAD_SIGNATURE", "Invalid signature in ServerKeyExchange or CertificateVerify message.", "the server's handshake signature does not verify"},
	28:    {"BR_ERR_WRONG_KEY_USAGE", "Peer's public key does not have the proper type or is not allowed for the requested operation.", "the server key type does not fit the negotiated cipher suite"},
	29:    {"BR_ERR_NO_CLIENT_AUTH", "Client did not send a certificate upon request, or the client certificate could not be validated.", "the client certificate was not sent: call setClientRSACert/setClientECCert with cert.der and private.der before connect()"},
	31:    {"BR_ERR_IO", "I/O error or premature close on transport stream.", "the connection closed during TLS"},
	32:    {"BR_ERR_X509_OK", "Unknown error code.", ""},
	33:    {"BR_ERR_X509_INVALID_VALUE", "Invalid value in an ASN.1 structure.", hintDERFiles},
	34:    {"BR_ERR_X509_TRUNCATED", "Truncated certificate or other ASN.1 object.", hintDERFiles},
	35:    {"BR_ERR_X509_EMPTY_CHAIN", "Empty certificate chain (no certificate at all).", "no certificate in the chain: check that cert.der/ca.der were loaded (getCount() > 0)"},
	36:    {"BR_ERR_X509_INNER_TRUNC", "Decoding error: inner element extends beyond outer element size.", hintDERFiles},
	37:    {"BR_ERR_X509_BAD_TAG_CLASS", "Decoding error: unsupported tag class (application or private).", hintDERFiles},
	38:    {"BR_ERR_X509_BAD_TAG_VALUE", "Decoding error: unsupported tag value.", hintDERFiles},
	39:    {"BR_ERR_X509_INDEFINITE_LENGTH", "Decoding error: indefinite length.", hintDERFiles},
	40:    {"BR_ERR_X509_EXTRA_ELEMENT", "Decoding error: extraneous element.", hintDERFiles},
	41:    {"BR_ERR_X509_UNEXPECTED", "Decoding error: unexpected element.", hintDERFiles},
	42:    {"BR_ERR_X509_NOT_CONSTRUCTED", "Decoding error: expected constructed element, but is primitive.", hintDERFiles},
	43:    {"BR_ERR_X509_NOT_PRIMITIVE", "Decoding error: expected primitive element, but is constructed.", hintDERFiles},
	44:    {"BR_ERR_X509_PARTIAL_BYTE", "Decoding error: BIT STRING length is not multiple of 8.", hintDERFiles},
	45:    {"BR_ERR_X509_BAD_BOOLEAN", "Decoding error: BOOLEAN value has invalid length.", hintDERFiles},
	46:    {"BR_ERR_X509_OVERFLOW", "Decoding error: value is off-limits.", hintDERFiles},
	47:    {"BR_ERR_X509_BAD_DN", "Invalid distinguished name.", hintDERFiles},
	48:    {"BR_ERR_X509_BAD_TIME", "Invalid date/time representation.", hintDERFiles},
	49:    {"BR_ERR_X509_UNSUPPORTED", "Certificate contains unsupported features that cannot be ignored.", "a certificate uses features BearSSL cannot handle"},
	50:    {"BR_ERR_X509_LIMIT_EXCEEDED", "Key or signature size exceeds internal limits.", "a key or signature is larger than BearSSL supports"},
	51:    {"BR_ERR_X509_WRONG_KEY_TYPE", "Key type does not match that which was expected.", "key type mismatch: an EC certificate loaded with setClientRSACert (or the reverse), or an RSA/EC CA that does not fit the negotiated suite — use Amazon Root CA 1 with RSA keys"},
	52:    {"BR_ERR_X509_BAD_SIGNATURE", "Signature is invalid.", "a certificate signature in the chain does not verify: wrong or corrupted ca.der"},
	53:    {"BR_ERR_X509_TIME_UNKNOWN", "Validation time is unknown.", "no validation time: sync NTP and call setX509Time(time(nullptr)) before connect()"},
	54:    {"BR_ERR_X509_EXPIRED", "Certificate is expired or not yet valid.", "the board's clock is wrong (not synced: it thinks it is 1970) or a certificate really expired: wait for NTP (UDP 123 must be open) before connecting, and check the validity of ca.der/cert.der"},
	55:    {"BR_ERR_X509_DN_MISMATCH", "Issuer/Subject DN mismatch in the chain.", hintCA},
	56:    {"BR_ERR_X509_BAD_SERVER_NAME", "Expected server name was not found in the chain.", "the host name is not in the server certificate: connect by the AWS IoT endpoint host name (…-ats.iot.<region>.amazonaws.com), never by IP address or a CNAME the certificate does not cover"},
	57:    {"BR_ERR_X509_CRITICAL_EXTENSION", "Unknown critical extension in certificate.", "a certificate carries a critical extension BearSSL does not know"},
	58:    {"BR_ERR_X509_NOT_CA", "Not a CA, or path length constraint violation.", hintCA},
	59:    {"BR_ERR_X509_FORBIDDEN_KEY_USAGE", "Key Usage extension prohibits intended usage.", "a certificate's Key Usage forbids this use"},
	60:    {"BR_ERR_X509_WEAK_PUBLIC_KEY", "Public key found in certificate is too small.", "a certificate key is too small for BearSSL"},
	62:    {"BR_ERR_X509_NOT_TRUSTED", "Chain could not be linked to a trust anchor.", hintCA},
	-1000: {"OOM", "Unable to allocate memory for SSL structures and buffers.", "not enough free heap for TLS (~17 KB receive + 0.6 KB send buffers with the defaults, plus ~6 KB BearSSL stack): free memory before connecting, or shrink the buffers with setBufferSizes() after probeMaxFragmentLength() says the server accepts it"},
}

var sslByText = func() map[string]int {
	m := map[string]int{}
	for c, e := range sslErrs {
		if c == 0 || c == 32 { // "Unknown error code." is ambiguous; 0 wins
			continue
		}
		m[e.text] = c
	}
	m["Unknown error code."] = 0
	return m
}()

// alertPrefix starts getLastSSLError() texts of received fatal alerts (core ≥ 3.0).
const alertPrefix = "SSL received fatal alert - "

var tlsAlerts = map[int]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
	40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
	44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
	47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
	51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
	80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
	112: "unrecognized_name", 116: "certificate_required", 120: "no_application_protocol",
}

func alertHint(a int) string {
	switch a {
	case 42, 43, 44, 45, 46, 48, 51, 116:
		return hintClientCert
	case 70, 71:
		return "the server refused TLS 1.2: the domain configuration's security policy is TLS 1.3-only — choose a policy that allows TLS 1.2 (BearSSL has no TLS 1.3)"
	case 40:
		return "the server refused the handshake: no common cipher suite or a rejected client certificate"
	case 112:
		return "the server does not know the host name sent in SNI: connect by the exact AWS IoT endpoint host name"
	}
	return "the server aborted the TLS handshake with a fatal alert"
}

// TLSError is a decoded getLastSSLError() result (ESP8266, BearSSL) or
// lastError() result (ESP32 family, mbedTLS: Lib is LibMbedTLS).
type TLSError struct {
	Code      int    // BearSSL code (0 when the text was "Unknown error code."), or mbedTLS code
	Name      string // BearSSL constant name, or mbedTLS's (high+low part)
	Text      string // the text the core prints
	Alert     int    // TLS alert number when the server sent a fatal alert, else -1
	AlertName string
	Ambiguous bool   // the text does not determine the code (Unknown error code.)
	Lib       string // LibMbedTLS for arduino-esp32's codes; "" for BearSSL's
	OOM       bool   // an allocation failed (BearSSL -1000, mbedTLS *_ALLOC_FAILED)
	Meaning   string // likely cause and fix
}

// SSLErrorByCode decodes a getLastSSLError() integer. On 2.x cores a received
// alert is 256+alert, a sent one 512+alert.
func SSLErrorByCode(code int) TLSError {
	switch {
	case code >= 256 && code < 512:
		return alertError(code-256, code)
	case code >= 512 && code < 768:
		a := code - 512
		return TLSError{Code: code, Name: "BR_ERR_SEND_FATAL_ALERT", Text: "Unknown error code.", Alert: a, AlertName: tlsAlerts[a],
			Meaning: "the board sent fatal alert " + strconv.Itoa(a) + " (" + nameOr(tlsAlerts[a], "unknown alert") + ")"}
	}
	e, ok := sslErrs[code]
	if !ok {
		return TLSError{Code: code, Name: "unknown", Text: "Unknown error code.", Alert: -1,
			Meaning: fmt.Sprintf("BearSSL error %d is not in the table", code)}
	}
	return TLSError{Code: code, Name: e.name, Text: e.text, Alert: -1, Meaning: e.hint, Ambiguous: code == 0 || code == 32, OOM: code == -1000}
}

func alertError(a, code int) TLSError {
	return TLSError{Code: code, Name: "BR_ERR_RECV_FATAL_ALERT", Text: alertPrefix + SSLErrorByCode(a).Text,
		Alert: a, AlertName: tlsAlerts[a],
		Meaning: fmt.Sprintf("the server sent fatal alert %d (%s): %s", a, nameOr(tlsAlerts[a], "unknown alert"), alertHint(a))}
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// SSLErrorByText decodes the text getLastSSLError() printed. ok is false when
// the text is not one the core produces.
func SSLErrorByText(text string) (TLSError, bool) {
	text = strings.TrimSpace(text)
	if rest, isAlert := strings.CutPrefix(text, alertPrefix); isAlert {
		code, ok := sslCodeOfText(rest)
		if !ok {
			return TLSError{}, false
		}
		if code == 0 {
			e := TLSError{Code: 256, Name: "BR_ERR_RECV_FATAL_ALERT", Text: text, Alert: -1, Ambiguous: true,
				Meaning: "the server sent a fatal alert whose number the core could not name (70 protocol_version, 71, 80, 86, 90, 100, 109, 110, 112, 116 or 120); a TLS 1.3-only security policy gives 70 — print the getLastSSLError() integer too"}
			return e, true
		}
		return alertError(code, code), true
	}
	code, ok := sslCodeOfText(text)
	if !ok {
		return TLSError{}, false
	}
	return SSLErrorByCode(code), true
}

// sslCodeOfText finds the code of an exact text, or of a text cut short by
// a small buffer (at least 24 characters of it).
func sslCodeOfText(text string) (int, bool) {
	if c, ok := sslByText[text]; ok {
		return c, true
	}
	if len(text) < 24 {
		return 0, false
	}
	found, n := 0, 0
	for t, c := range sslByText {
		if strings.HasPrefix(t, text) {
			found, n = c, n+1
		}
	}
	return found, n == 1 // a prefix shared by two texts decides nothing
}

// --- PubSubClient (§3.6, AWS causes §3.5) ---

type mqttState struct{ name, words, fix string }

var mqttStates = map[int]mqttState{
	-4: {"MQTT_CONNECTION_TIMEOUT", "no CONNACK within the socket timeout (15 s) after CONNECT, or a PINGREQ went unanswered",
		"on AWS IoT the broker hung up after CONNECT: the certificate is not ACTIVE/registered, no policy is attached to it, or the policy does not allow iot:Connect for this client ID — check them (iotbench doctor)"},
	-3: {"MQTT_CONNECTION_LOST", "the connection was up and is gone",
		"the broker dropped the client: the policy denies iot:Publish/iot:Subscribe on the topic used, or another client connected with the same client ID (each connect kicks the other) — use a unique client ID (the thing name) and allow the topics in the policy"},
	-2: {"MQTT_CONNECT_FAILED", "the network connect failed (DNS, TCP or the TLS handshake)",
		"look at the TLS error printed with it (getLastSSLError() on the ESP8266, lastError() on the ESP32): CA, clock, certificate, endpoint name or a blocked port 8883"},
	-1: {"MQTT_DISCONNECTED", "disconnected (initial state, or after disconnect())", ""},
	0:  {"MQTT_CONNECTED", "connected", ""},
	1:  {"MQTT_CONNECT_BAD_PROTOCOL", "the broker refused the protocol version (CONNACK 1)", "use MQTT 3.1.1 (PubSubClient's default MQTT_VERSION)"},
	2:  {"MQTT_CONNECT_BAD_CLIENT_ID", "the broker rejected the client ID (CONNACK 2)", "use a non-empty client ID that is unique in the account and region (the thing name)"},
	3:  {"MQTT_CONNECT_UNAVAILABLE", "the server is unavailable (CONNACK 3)", "retry later; check the endpoint"},
	4:  {"MQTT_CONNECT_BAD_CREDENTIALS", "bad user name or password (CONNACK 4)", "AWS IoT with certificates takes no user name/password: connect without them"},
	5:  {"MQTT_CONNECT_UNAUTHORIZED", "not authorized (CONNACK 5)", "the policy attached to the certificate does not allow iot:Connect for this client ID, or the certificate is not attached/active — fix the policy (iotbench doctor)"},
}

// MQTTState explains a PubSubClient state() value.
func MQTTState(n int) (name, words, fix string) {
	if s, ok := mqttStates[n]; ok {
		return s.name, s.words, s.fix
	}
	return "UNKNOWN", fmt.Sprintf("unknown PubSubClient state %d", n), ""
}

// --- Wi-Fi (§3.9) ---

var wifiStatus = map[int]named{
	0:   {"WL_IDLE_STATUS", "idle"},
	1:   {"WL_NO_SSID_AVAIL", "the SSID is not visible"},
	2:   {"WL_SCAN_COMPLETED", "scan completed"},
	3:   {"WL_CONNECTED", "connected"},
	4:   {"WL_CONNECT_FAILED", "connection failed"},
	5:   {"WL_CONNECTION_LOST", "connection lost"},
	6:   {"WL_WRONG_PASSWORD", "wrong password"},
	7:   {"WL_DISCONNECTED", "disconnected"},
	255: {"WL_NO_SHIELD", "no Wi-Fi hardware"},
}

// WiFiStatus names a WiFi.status() value, with a fix for the failures.
func WiFiStatus(n int) (name, words, fix string) {
	s, ok := wifiStatus[n]
	if !ok {
		return "UNKNOWN", fmt.Sprintf("unknown Wi-Fi status %d", n), ""
	}
	switch n {
	case 1:
		fix = "check the SSID in config.json; the ESP8266 only sees 2.4 GHz networks; move closer to the access point"
	case 4, 6:
		fix = "check the Wi-Fi password in config.json (and that the network is WPA2-PSK, not WPA3-only or enterprise)"
	case 5:
		fix = "weak signal or the access point restarted: move closer or check the access point"
	}
	return s.name, s.words, fix
}

var wifiReasons = map[int]string{
	1: "UNSPECIFIED", 2: "AUTH_EXPIRE", 3: "AUTH_LEAVE", 4: "ASSOC_EXPIRE", 5: "ASSOC_TOOMANY",
	6: "NOT_AUTHED", 7: "NOT_ASSOCED", 8: "ASSOC_LEAVE", 9: "ASSOC_NOT_AUTHED",
	10: "DISASSOC_PWRCAP_BAD", 11: "DISASSOC_SUPCHAN_BAD", 13: "IE_INVALID", 14: "MIC_FAILURE",
	15: "4WAY_HANDSHAKE_TIMEOUT", 16: "GROUP_KEY_UPDATE_TIMEOUT", 17: "IE_IN_4WAY_DIFFERS",
	18: "GROUP_CIPHER_INVALID", 19: "PAIRWISE_CIPHER_INVALID", 20: "AKMP_INVALID",
	21: "UNSUPP_RSN_IE_VERSION", 22: "INVALID_RSN_IE_CAP", 23: "802_1X_AUTH_FAILED",
	24: "CIPHER_SUITE_REJECTED", 200: "BEACON_TIMEOUT", 201: "NO_AP_FOUND", 202: "AUTH_FAIL",
	203: "ASSOC_FAIL", 204: "HANDSHAKE_TIMEOUT",
}

// WiFiReason names an SDK disconnect reason, with a fix where one is known.
func WiFiReason(n int) (name, fix string) {
	name, ok := wifiReasons[n]
	if !ok {
		return "UNKNOWN", ""
	}
	switch n {
	case 15, 204, 202, 2, 23:
		fix = "usually a wrong Wi-Fi password: check it in config.json"
	case 201:
		fix = "the access point was not found: check the SSID (case matters), that it is 2.4 GHz, and the distance"
	case 200:
		fix = "the access point's beacons were lost: weak signal or the access point restarted"
	case 5:
		fix = "the access point has too many clients"
	case 203:
		fix = "the access point refused the association (MAC filter, full, or incompatible security)"
	case 18, 19, 20, 21, 22, 24:
		fix = "the access point's security settings are not supported: use WPA2-PSK (AES)"
	}
	return name, fix
}

// --- ArduinoOTA onError codes (§5.6) ---

var otaErrors = map[int]named{
	0: {"OTA_AUTH_ERROR", "authentication failed: the OTA password does not match"},
	1: {"OTA_BEGIN_ERROR", "Update.begin failed: image too large for the free space, or the board needs a reset after serial flashing"},
	2: {"OTA_CONNECT_ERROR", "the device could not connect back to the uploader: a firewall on the host blocks the TCP port"},
	3: {"OTA_RECEIVE_ERROR", "receiving the image failed: the network dropped or timed out"},
	4: {"OTA_END_ERROR", "Update.end failed: MD5 mismatch or a bad image"},
	5: {"OTA_ERASE_SETTINGS_ERROR", "erasing the Wi-Fi settings failed"},
}
