package twin

import (
	"crypto/x509"
	"errors"
	"net"
	"reflect"

	"github.com/iotbench/iotbench/serialmon/decode"
)

// BearSSL error codes the twin reports (inc/bearssl_x509.h, device-side.md §3.4).
const (
	brOK            = 0
	brX509Expired   = 54 // BR_ERR_X509_EXPIRED: also "not yet valid"
	brX509BadServer = 56 // BR_ERR_X509_BAD_SERVER_NAME
	brX509NotCA     = 58 // BR_ERR_X509_NOT_CA
	brX509Usage     = 59 // BR_ERR_X509_FORBIDDEN_KEY_USAGE
	brX509NotTrust  = 62 // BR_ERR_X509_NOT_TRUSTED
)

// alertPrefix starts getLastSSLError()'s text for a received fatal alert on
// core >= 3.0, which then looks the bare alert number up in its own table
// (device-side.md §3.4, trap 2).
const alertPrefix = "SSL received fatal alert - "

// sslError maps a failed handshake to what getLastSSLError() returns on
// the ESP8266 core 3.x: the integer and the text. The mapping follows what
// BearSSL's X.509 engine and the core do for the same event:
//
//   - the server chain does not reach ca.der → 62;
//   - a certificate outside its validity at the board's time → 54;
//   - the chain names another host → 56;
//   - the broker aborted with fatal alert a (it refused the client
//     certificate) → the core returns a itself and the text of BearSSL
//     code a after the prefix;
//   - anything below TLS (refused, reset, closed mid-handshake, timeout) → 0,
//     "Unknown error code." (§3.4 trap 1).
func sslError(err error) (code int, text string) {
	code = brOK
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		op       *net.OpError
	)
	switch {
	case errors.As(err, &unknown):
		code = brX509NotTrust
	case errors.As(err, &hostname):
		code = brX509BadServer
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			code = brX509Expired
		case x509.NotAuthorizedToSign, x509.TooManyIntermediates:
			code = brX509NotCA
		case x509.IncompatibleUsage:
			code = brX509Usage
		default:
			code = brX509NotTrust
		}
	case errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls reports a received alert as an OpError whose Err is
		// its unexported alert type, a uint8.
		if v := reflect.ValueOf(op.Err); v.IsValid() && v.Kind() == reflect.Uint8 {
			a := int(v.Uint())
			return a, alertPrefix + decode.SSLErrorByCode(a).Text
		}
	}
	return code, decode.SSLErrorByCode(code).Text
}
