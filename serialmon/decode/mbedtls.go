package decode

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/iotbench/iotbench/firmware"
)

// TLS libraries (TLSError.Lib, the "tls_lib" field of mbedTLS events).
const (
	LibBearSSL = "bearssl" // ESP8266 core: BearSSL::WiFiClientSecure
	LibMbedTLS = "mbedtls" // arduino-esp32: WiFiClientSecure over mbedTLS
)

// mbedTLS on ESP32-family boards: the reference firmware prints
// net.lastError() (firmware/mbedtls.go), and arduino-esp32 built with a
// core debug level ≥ 1 logs ssl_client.cpp's _handle_error lines.

// mbedTLS codes the fixes single out (firmware/mbedtls.go has the table).
const (
	mbedX509First    = -0x2080 // X509 parse errors run from here …
	mbedX509Last     = -0x2680 // … to here; CERT_VERIFY_FAILED follows
	mbedPKFirst      = -0x3880
	mbedPKLast       = -0x3F80
	mbedPEMFirst     = -0x1080
	mbedPEMLast      = -0x1480
	mbedBadVersion   = -0x6E80
	mbedHandshake    = -0x6E00
	mbedBadCert      = -0x7A00
	mbedPKMismatch   = -0x6D00
	mbedRSAPrivate   = -0x4300
	mbedECPInvalid   = -0x4C80
	mbedUnexpectedMs = -0x7700
	mbedBadRecord    = -0x7200
	mbedBadInput     = -0x7100
	mbedInternal     = -0x6C00
)

// mbedtlsOOM: the allocation failures of the modules a handshake uses.
var mbedtlsOOM = map[int]bool{firmware.MbedTLSSSLAllocFailed: true, -0x2880: true, -0x3F80: true, -0x1180: true, -0x006A: true, -0x0010: true, -0x4D80: true}

// MbedTLSError decodes a code arduino-esp32's WiFiClientSecure reports
// (lastError(), ssl_client.cpp's logs): its constant names, mbedtls_strerror's
// text and what it means for a board connecting to AWS IoT or the local
// cloud, with the same advice the BearSSL codes get.
func MbedTLSError(code int) TLSError {
	e := TLSError{Code: code, Text: firmware.MbedTLSStrerror(code), Alert: -1, Lib: LibMbedTLS}
	high, low, hasHigh, hasLow := firmware.MbedTLSParts(code)
	var names []string
	for _, p := range []struct {
		e   firmware.MbedTLSErr
		has bool
	}{{high, hasHigh}, {low, hasLow}} {
		if !p.has {
			continue
		}
		n := p.e.Name
		if n == "" {
			n = "-0x" + strings.ToUpper(strconv.FormatInt(int64(-p.e.Code), 16))
		}
		names = append(names, n)
	}
	e.Name = strings.Join(names, "+")
	hc := high.Code
	if !hasHigh {
		hc = low.Code
	}
	switch {
	case code == firmware.MbedTLSNone:
		e.Name, e.Ambiguous = "none", true
		e.Meaning = "no TLS error recorded: connect() gave up before TLS started — the endpoint name did not resolve (check the endpoint host in config.json and the network's DNS)"
	case code > 0:
		e.Name, e.Ambiguous = "socket", true
		e.Meaning = "connect() gave up before TLS started (lastError() still holds the socket of the last connection that worked): the endpoint name did not resolve — check the endpoint host in config.json and the network's DNS"
	case code == firmware.MbedTLSGeneric:
		e.Name = "SSL_CLIENT_FAILED"
		e.Meaning = "no mbedTLS error: ssl_client gave up below TLS — TCP connect to the endpoint's port (8883) refused or timed out (outbound 8883 blocked? broker down?), the handshake outlived setHandshakeTimeout(), or no CA was set (ca.der missing)"
	case code == firmware.MbedTLSCertVerifyFailed:
		e.Meaning = hintCA + "; or the endpoint host name is not in the server certificate: connect by the endpoint's name (…-ats.iot.<region>.amazonaws.com), never an IP address. (arduino-esp32's mbedTLS does not check certificate dates: the clock is not the cause.)"
	case hc == firmware.MbedTLSFatalAlert:
		e.Meaning = "the server sent a fatal alert: " + hintClientCert + "; a TLS 1.3-only security policy on the endpoint gives this too (arduino-esp32 speaks TLS 1.2)"
	case code == firmware.MbedTLSConnEOF, code == firmware.MbedTLSNetConnReset:
		e.Meaning = "the server closed the connection during the handshake: " + hintClientCert + "; or a firewall or proxy cuts port 8883"
	case code == firmware.MbedTLSNetRecvFailed, code == firmware.MbedTLSNetSendFailed:
		e.Meaning = "the connection failed during TLS: weak Wi-Fi, or the network dropped it"
	case mbedtlsOOM[hc]:
		e.OOM = true
		e.Meaning = "not enough free heap for TLS: free memory before connecting (large Strings, buffers, other clients)"
	case hc <= mbedX509First && hc >= mbedX509Last, hc == -0x2780:
		e.Meaning = "mbedTLS could not parse ca.der or cert.der (the sketch hands them over as PEM): " + hintDERFiles
	case hc <= mbedPKFirst && hc >= mbedPKLast:
		e.Meaning = "mbedTLS could not parse private.der: " + fileParseFix(firmware.KeyFile)
	case hc <= mbedPEMFirst && hc >= mbedPEMLast:
		e.Meaning = "the PEM text the sketch built from a DER file did not parse: " + hintDERFiles
	case hc == mbedBadVersion:
		e.Meaning = "the server refused TLS 1.2: the domain configuration's security policy is TLS 1.3-only — choose a policy that allows TLS 1.2"
	case hc == mbedHandshake:
		e.Meaning = "the handshake negotiation failed: no common cipher suite, or a key type the server does not accept"
	case hc == mbedBadCert:
		e.Meaning = "the server's certificate message could not be processed: a key type or size this mbedTLS build does not support, or not the endpoint you meant"
	case hc == mbedPKMismatch, hc == mbedRSAPrivate, hc == mbedECPInvalid:
		e.Meaning = "the private key does not fit: private.der does not belong to cert.der or is damaged — write the key generated with this certificate"
	case hc == mbedUnexpectedMs, hc == mbedBadRecord:
		e.Meaning = "TLS protocol error from the server: not a TLS server on that port (8883 for MQTT over TLS)?"
	case hc == mbedBadInput:
		e.Meaning = "mbedTLS refused a parameter: an endpoint host name that is empty or too long, or a certificate/key set wrongly — check config.json's endpoint and re-provision"
	case hc == mbedInternal:
		e.Meaning = "mbedTLS failed internally, usually a crypto operation that ran out of heap: free memory before connecting, or reset the board"
	default:
		e.Meaning = "mbedTLS error " + e.Name
	}
	return e
}

// arduino-esp32's log lines: "[  1234][E][ssl_client.cpp:38] _handle_error(): …"
// (core 2.0.x and 3.x), "[E][ssl_client.cpp:33] _handle_error(): …" (older).
var (
	reArduLog      = regexp.MustCompile(`^(?:\[\s*\d+\])?\[([EWIDV])\]\[([A-Za-z0-9_.\-]+):(\d+)\] ([A-Za-z0-9_~]+)\(\): ?(.*)$`)
	reHandleError  = regexp.MustCompile(`^\[([A-Za-z0-9_]+)\(\):(\d+)\]: (?:\((-?\d+)\) (.*)|code (-?\d+))$`)
	reStartSSLFail = regexp.MustCompile(`^start_ssl_client: (?:connect failed:? )?(-?\d+)$`)
)

// handshakeFuncs are ssl_client.cpp's functions whose errors fail a connect.
var handshakeFuncs = map[string]bool{"start_ssl_client": true, "ssl_starttls_handshake": true}

// arduinoLogLine decodes arduino-esp32's TLS log lines; ok is false for
// other lines.
func (d *Decoder) arduinoLogLine(ev evFunc, t string) ([]Event, bool) {
	m := reArduLog.FindStringSubmatch(t)
	if m == nil {
		return nil, false
	}
	file, fn, msg := m[2], m[4], m[5]
	f := map[string]string{"source": file + ":" + m[3], "function": fn, "tls_lib": LibMbedTLS}
	switch {
	case file == "ssl_client.cpp" && fn == "_handle_error":
		h := reHandleError.FindStringSubmatch(msg)
		if h == nil {
			return nil, false
		}
		num := h[3]
		if num == "" {
			num = h[5]
		}
		code, err := strconv.Atoi(num)
		if err != nil {
			return nil, false
		}
		f["function"], f["text"] = h[1], h[4]
		e := MbedTLSError(code)
		if !handshakeFuncs[h[1]] {
			d.tlsUp = false
			f["code"], f["name"] = num, e.Name
			return ev(KindTLSError, Warning, "TLS connection broke in "+h[1]+"(): "+num+" "+e.Text,
				"the connection to the broker failed after the handshake (weak Wi-Fi, or the broker closed it); the sketch reconnects", f), true
		}
		return d.tlsEvent(ev, e, f), true
	case reStartSSLFail.MatchString(msg):
		code, err := strconv.Atoi(reStartSSLFail.FindStringSubmatch(msg)[1])
		if err != nil {
			return nil, false
		}
		if code == firmware.MbedTLSGeneric {
			// The only line this failure leaves: no _handle_error before it.
			return d.tlsEvent(ev, MbedTLSError(code), f), true
		}
		f["code"] = strconv.Itoa(code)
		return ev(KindTLSTrace, Warning, "TLS connect failed ("+msg+"): see the ssl_client error before it", "", f), true
	}
	return nil, false
}

// mbedtls reports whether the firmware is an ESP32-family build, whose TLS
// codes are mbedTLS's: from the arch of the last "#IB boot" line since the
// reset, else from the chip family.
func (d *Decoder) mbedtls() bool {
	if d.bootSeen {
		return firmware.IsESP32Arch(d.arch)
	}
	return !d.is8266()
}

// tlsLibName names the TLS stack of the running firmware for texts.
func (d *Decoder) tlsLibName() string {
	if d.mbedtls() {
		return "mbedTLS"
	}
	return "BearSSL"
}
