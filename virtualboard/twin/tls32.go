package twin

import (
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/iotbench/iotbench/firmware"
)

// The twin's TLS on ESP32-family chips is arduino-esp32's WiFiClientSecure
// (NetworkClientSecure over ssl_client.cpp), which is mbedTLS: the sketch
// prints net.lastError(), the code start_ssl_client or the handshake
// returned, and mbedtls_strerror's text (firmware/mbedtls.go).

var (
	// errLookup marks a failed name lookup: NetworkClientSecure::connect
	// returns before start_ssl_client, leaving last_error as it was.
	errLookup = errors.New("name lookup failed")
	// errTCP marks a TCP connect that failed: start_ssl_client returns -1.
	errTCP = errors.New("TCP connect failed")
)

// setupError is start_ssl_client failing before the handshake with code.
type setupError struct{ code int }

func (e setupError) Error() string { return firmware.MbedTLSStrerror(e.code) }

// mbedtlsSetup is what start_ssl_client does with the sketch's files
// before the handshake: no ca.der means setCACert was never called, and
// start_ssl_client refuses with -1; a ca.der that is not a certificate
// fails mbedtls_x509_crt_parse, whose DER parser returns
// MBEDTLS_ERR_X509_INVALID_FORMAT when the outer SEQUENCE is not there or
// runs past the end (a cut or foreign file; damage deeper inside adds an
// ASN.1 code the twin does not model).
func (s *sketch) mbedtlsSetup() error {
	switch {
	case !s.haveCA:
		return setupError{firmware.MbedTLSGeneric}
	case s.caBad:
		return setupError{firmware.MbedTLSX509InvalidFmt}
	}
	return nil
}

// lwipFirstSocket is what last_error holds after a successful connect:
// start_ssl_client returns the socket descriptor, and lwIP numbers them
// from LWIP_SOCKET_OFFSET (FD_SETSIZE 64 − CONFIG_LWIP_MAX_SOCKETS 16 in
// arduino-esp32's build). A board with other sockets open gets a higher
// one; the twin reports the first.
const lwipFirstSocket = 48

// mbedtlsError maps a failed connect to the code mbedTLS and ssl_client
// return for the same event:
//
//   - the server chain does not verify against ca.der, or does not name
//     the host → MBEDTLS_ERR_X509_CERT_VERIFY_FAILED (VERIFY_REQUIRED makes
//     the handshake fail with it);
//   - the broker aborted with a fatal alert (it refused the client
//     certificate) → MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE;
//   - the broker closed the socket mid-handshake → MBEDTLS_ERR_SSL_CONN_EOF;
//     reset it → MBEDTLS_ERR_NET_CONN_RESET;
//   - TCP connect refused or timed out, or the handshake outlived its
//     timeout → -1, start_ssl_client's own value.
func mbedtlsError(err error) int {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		op       *net.OpError
		setup    setupError
	)
	switch {
	case errors.As(err, &setup):
		return setup.code
	case errors.Is(err, errTCP):
		return firmware.MbedTLSGeneric
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &hostname):
		return firmware.MbedTLSCertVerifyFailed
	case errors.As(err, &op) && op.Op == "remote error":
		return firmware.MbedTLSFatalAlert
	case errors.Is(err, syscall.ECONNRESET):
		return firmware.MbedTLSNetConnReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return firmware.MbedTLSConnEOF
	}
	return firmware.MbedTLSGeneric
}

// tlsError is the code and text the sketch prints for a failed connect:
// getLastSSLError() on the ESP8266, lastError() on the ESP32 family.
func (s *sketch) tlsError(err error) (int, string) {
	if s.env.Chip() == "ESP8266" {
		return sslError(err)
	}
	code := s.lastTLS.fail(err)
	return code, firmware.MbedTLSStrerror(code)
}

// lastError is NetworkClientSecure's sslclient->last_error, which
// lastError() reads: set by every start_ssl_client, kept by stop().
type lastError struct{ v int }

// fail records a failed connect and returns the value lastError() reads.
func (l *lastError) fail(err error) int {
	if !errors.Is(err, errLookup) {
		l.v = mbedtlsError(err)
	}
	return l.v
}

// connected records a successful connect: the socket's descriptor.
func (l *lastError) connected() { l.v = lwipFirstSocket }

// verifyWithoutDates checks the server chain the way arduino-esp32's
// mbedTLS does: against ca.der, for the endpoint host name and server
// use, but without certificate dates — its build leaves
// CONFIG_MBEDTLS_HAVE_TIME_DATE off (ESP-IDF's default; the lib-builder's
// defconfig does not turn it on), so a clock in 1970 or 2000 and an
// expired certificate pass. crypto/x509 always checks dates, so the chain
// is verified at times inside the leaf's validity; a chain that fails at
// every one of them fails for a reason other than dates.
func verifyWithoutDates(roots *x509.CertPool, host string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		var certs []*x509.Certificate
		for _, der := range raw {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return err
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return x509.UnknownAuthorityError{}
		}
		leaf, inter := certs[0], x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		var first error
		for _, at := range []time.Time{leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2), leaf.NotBefore, leaf.NotAfter} {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter, CurrentTime: at,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			if err == nil {
				return nil
			}
			var invalid x509.CertificateInvalidError
			if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
				return err
			}
			if first == nil {
				first = err
			}
		}
		return first
	}
}
