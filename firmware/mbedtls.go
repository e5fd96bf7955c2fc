package firmware

import (
	"fmt"
	"strings"
)

// mbedTLS, the TLS stack under arduino-esp32's WiFiClientSecure
// (NetworkClientSecure, ssl_client.cpp): on an ESP32-family board the
// reference sketch prints net.lastError(), which is the code start_ssl_client
// or the handshake returned (negative), and mbedtls_strerror's text for it.
// The table holds the codes of the modules a connection to AWS IoT or the
// local cloud goes through, with the texts mbedTLS 3.6's generate_errors.pl
// builds from the header comments ("<MODULE> - <comment>", trailing period
// dropped). ESP-IDF builds mbedTLS without MBEDTLS_NET_C, so the NET codes
// have no text on a board: mbedtls_strerror prints "UNKNOWN ERROR CODE
// (0050)" for a reset connection, as arduino-esp32 logs show.

// mbedTLS error codes the sketch's ESP32 path produces on a connection.
const (
	MbedTLSNone             = 0       // lastError() before any failure: empty text
	MbedTLSGeneric          = -0x0001 // start_ssl_client's own -1: TCP connect failed or the handshake timed out
	MbedTLSNetRecvFailed    = -0x004C // MBEDTLS_ERR_NET_RECV_FAILED
	MbedTLSNetSendFailed    = -0x004E // MBEDTLS_ERR_NET_SEND_FAILED
	MbedTLSNetConnReset     = -0x0050 // MBEDTLS_ERR_NET_CONN_RESET
	MbedTLSX509InvalidFmt   = -0x2180 // MBEDTLS_ERR_X509_INVALID_FORMAT
	MbedTLSCertVerifyFailed = -0x2700 // MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: chain, CA or host name
	MbedTLSPKInvalidFormat  = -0x3D00 // MBEDTLS_ERR_PK_KEY_INVALID_FORMAT
	MbedTLSConnEOF          = -0x7280 // MBEDTLS_ERR_SSL_CONN_EOF: the peer closed the socket
	MbedTLSFatalAlert       = -0x7780 // MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE
	MbedTLSSSLAllocFailed   = -0x7F00 // MBEDTLS_ERR_SSL_ALLOC_FAILED
)

// MbedTLSErr is one mbedTLS error code.
type MbedTLSErr struct {
	Code int    // negative, as the library returns it
	Name string // the MBEDTLS_ERR_ constant
	Text string // mbedtls_strerror's text for this part
}

// Module is the part of Name after MBEDTLS_ERR_ up to the next '_'
// ("SSL", "X509", "PK", "NET"…).
func (e MbedTLSErr) Module() string {
	m := strings.TrimPrefix(e.Name, "MBEDTLS_ERR_")
	if i := strings.IndexByte(m, '_'); i > 0 {
		m = m[:i]
	}
	return m
}

// compiled reports whether ESP-IDF's mbedTLS has the text built in.
func (e MbedTLSErr) compiled() bool { return e.Module() != "NET" }

var mbedtlsErrs = []MbedTLSErr{
	{-0x7000, "MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS", "SSL - A cryptographic operation is in progress. Try again later"},
	{-0x7080, "MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE", "SSL - The requested feature is not available"},
	{-0x7100, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA", "SSL - Bad input parameters to function"},
	{-0x7180, "MBEDTLS_ERR_SSL_INVALID_MAC", "SSL - Verification of the message MAC failed"},
	{-0x7200, "MBEDTLS_ERR_SSL_INVALID_RECORD", "SSL - An invalid SSL record was received"},
	{-0x7280, "MBEDTLS_ERR_SSL_CONN_EOF", "SSL - The connection indicated an EOF"},
	{-0x7300, "MBEDTLS_ERR_SSL_DECODE_ERROR", "SSL - A message could not be parsed due to a syntactic error"},
	{-0x7400, "MBEDTLS_ERR_SSL_NO_RNG", "SSL - No RNG was provided to the SSL module"},
	{-0x7480, "MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE", "SSL - No client certification received from the client, but required by the authentication mode"},
	{-0x7500, "MBEDTLS_ERR_SSL_UNSUPPORTED_EXTENSION", "SSL - Client received an extended server hello containing an unsupported extension"},
	{-0x7580, "MBEDTLS_ERR_SSL_NO_APPLICATION_PROTOCOL", "SSL - No ALPN protocols supported that the client advertises"},
	{-0x7600, "MBEDTLS_ERR_SSL_PRIVATE_KEY_REQUIRED", "SSL - The own private key or pre-shared key is not set, but needed"},
	{-0x7680, "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED", "SSL - No CA Chain is set, but required to operate"},
	{-0x7700, "MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE", "SSL - An unexpected message was received from our peer"},
	{-0x7780, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE", "SSL - A fatal alert message was received from our peer"},
	{-0x7800, "MBEDTLS_ERR_SSL_UNRECOGNIZED_NAME", "SSL - No server could be identified matching the client's SNI"},
	{-0x7880, "MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY", "SSL - The peer notified us that the connection is going to be closed"},
	{-0x7A00, "MBEDTLS_ERR_SSL_BAD_CERTIFICATE", "SSL - Processing of the Certificate handshake message failed"},
	{-0x7B00, "MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET", "SSL - A TLS 1.3 NewSessionTicket message has been received"},
	{-0x7E80, "MBEDTLS_ERR_SSL_CACHE_ENTRY_NOT_FOUND", "SSL - Cache entry not found"},
	{-0x7F00, "MBEDTLS_ERR_SSL_ALLOC_FAILED", "SSL - Memory allocation failed"},
	{-0x7F80, "MBEDTLS_ERR_SSL_HW_ACCEL_FAILED", "SSL - Hardware acceleration function returned with error"},
	{-0x6F80, "MBEDTLS_ERR_SSL_HW_ACCEL_FALLTHROUGH", "SSL - Hardware acceleration function skipped / left alone data"},
	{-0x6E80, "MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION", "SSL - Handshake protocol not within min/max boundaries"},
	{-0x6E00, "MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE", "SSL - The handshake negotiation failed"},
	{-0x6D80, "MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED", "SSL - Session ticket has expired"},
	{-0x6D00, "MBEDTLS_ERR_SSL_PK_TYPE_MISMATCH", "SSL - Public key type mismatch (eg, asked for RSA key exchange and presented EC key)"},
	{-0x6C80, "MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY", "SSL - Unknown identity received (eg, PSK identity)"},
	{-0x6C00, "MBEDTLS_ERR_SSL_INTERNAL_ERROR", "SSL - Internal error (eg, unexpected failure in lower-level module)"},
	{-0x6B80, "MBEDTLS_ERR_SSL_COUNTER_WRAPPING", "SSL - A counter would wrap (eg, too many messages exchanged)"},
	{-0x6B00, "MBEDTLS_ERR_SSL_WAITING_SERVER_HELLO_RENEGO", "SSL - Unexpected message at ServerHello in renegotiation"},
	{-0x6A80, "MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED", "SSL - DTLS client must retry for hello verification"},
	{-0x6A00, "MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL", "SSL - A buffer is too small to receive or write a message"},
	{-0x6900, "MBEDTLS_ERR_SSL_WANT_READ", "SSL - No data of requested type currently available on underlying transport"},
	{-0x6880, "MBEDTLS_ERR_SSL_WANT_WRITE", "SSL - Connection requires a write call"},
	{-0x6800, "MBEDTLS_ERR_SSL_TIMEOUT", "SSL - The operation timed out"},
	{-0x6780, "MBEDTLS_ERR_SSL_CLIENT_RECONNECT", "SSL - The client initiated a reconnect from the same port"},
	{-0x6700, "MBEDTLS_ERR_SSL_UNEXPECTED_RECORD", "SSL - Record header looks valid but is not expected"},
	{-0x6680, "MBEDTLS_ERR_SSL_NON_FATAL", "SSL - The alert message received indicates a non-fatal error"},
	{-0x6600, "MBEDTLS_ERR_SSL_ILLEGAL_PARAMETER", "SSL - A field in a message was incorrect or inconsistent with other fields"},
	{-0x6580, "MBEDTLS_ERR_SSL_CONTINUE_PROCESSING", "SSL - Internal-only message signaling that further message-processing should be done"},
	{-0x6500, "MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS", "SSL - The asynchronous operation is not completed yet"},
	{-0x6480, "MBEDTLS_ERR_SSL_EARLY_MESSAGE", "SSL - Internal-only message signaling that a message arrived early"},
	{-0x6000, "MBEDTLS_ERR_SSL_UNEXPECTED_CID", "SSL - An encrypted DTLS-frame with an unexpected CID was received"},
	{-0x5F00, "MBEDTLS_ERR_SSL_VERSION_MISMATCH", "SSL - An operation failed due to an unexpected version or configuration"},
	{-0x5E80, "MBEDTLS_ERR_SSL_BAD_CONFIG", "SSL - Invalid value in SSL config"},
	{-0x2080, "MBEDTLS_ERR_X509_FEATURE_UNAVAILABLE", "X509 - Unavailable feature, e.g. RSA hashing/encryption combination"},
	{-0x2100, "MBEDTLS_ERR_X509_UNKNOWN_OID", "X509 - Requested OID is unknown"},
	{-0x2180, "MBEDTLS_ERR_X509_INVALID_FORMAT", "X509 - The CRT/CRL/CSR format is invalid, e.g. different type expected"},
	{-0x2200, "MBEDTLS_ERR_X509_INVALID_VERSION", "X509 - The CRT/CRL/CSR version element is invalid"},
	{-0x2280, "MBEDTLS_ERR_X509_INVALID_SERIAL", "X509 - The serial tag or value is invalid"},
	{-0x2300, "MBEDTLS_ERR_X509_INVALID_ALG", "X509 - The algorithm tag or value is invalid"},
	{-0x2380, "MBEDTLS_ERR_X509_INVALID_NAME", "X509 - The name tag or value is invalid"},
	{-0x2400, "MBEDTLS_ERR_X509_INVALID_DATE", "X509 - The date tag or value is invalid"},
	{-0x2480, "MBEDTLS_ERR_X509_INVALID_SIGNATURE", "X509 - The signature tag or value invalid"},
	{-0x2500, "MBEDTLS_ERR_X509_INVALID_EXTENSIONS", "X509 - The extension tag or value is invalid"},
	{-0x2580, "MBEDTLS_ERR_X509_UNKNOWN_VERSION", "X509 - CRT/CRL/CSR has an unsupported version number"},
	{-0x2600, "MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG", "X509 - Signature algorithm (oid) is unsupported"},
	{-0x2680, "MBEDTLS_ERR_X509_SIG_MISMATCH", "X509 - Signature algorithms do not match. (see \\c ::mbedtls_x509_crt sig_oid)"},
	{-0x2700, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED", "X509 - Certificate verification failed, e.g. CRL, CA or signature check failed"},
	{-0x2780, "MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT", "X509 - Format not recognized as DER or PEM"},
	{-0x2800, "MBEDTLS_ERR_X509_BAD_INPUT_DATA", "X509 - Input invalid"},
	{-0x2880, "MBEDTLS_ERR_X509_ALLOC_FAILED", "X509 - Allocation of memory failed"},
	{-0x2900, "MBEDTLS_ERR_X509_FILE_IO_ERROR", "X509 - Read/write of file failed"},
	{-0x2980, "MBEDTLS_ERR_X509_BUFFER_TOO_SMALL", "X509 - Destination buffer is too small"},
	{-0x3000, "MBEDTLS_ERR_X509_FATAL_ERROR", "X509 - A fatal error occurred, eg the chain is too long or the vrfy callback failed"},
	{-0x3F80, "MBEDTLS_ERR_PK_ALLOC_FAILED", "PK - Memory allocation failed"},
	{-0x3F00, "MBEDTLS_ERR_PK_TYPE_MISMATCH", "PK - Type mismatch, eg attempt to encrypt with an ECDSA key"},
	{-0x3E80, "MBEDTLS_ERR_PK_BAD_INPUT_DATA", "PK - Bad input parameters to function"},
	{-0x3E00, "MBEDTLS_ERR_PK_FILE_IO_ERROR", "PK - Read/write of file failed"},
	{-0x3D80, "MBEDTLS_ERR_PK_KEY_INVALID_VERSION", "PK - Unsupported key version"},
	{-0x3D00, "MBEDTLS_ERR_PK_KEY_INVALID_FORMAT", "PK - Invalid key tag or value"},
	{-0x3C80, "MBEDTLS_ERR_PK_UNKNOWN_PK_ALG", "PK - Key algorithm is unsupported (only RSA and EC are supported)"},
	{-0x3C00, "MBEDTLS_ERR_PK_PASSWORD_REQUIRED", "PK - Private key password can't be empty"},
	{-0x3B80, "MBEDTLS_ERR_PK_PASSWORD_MISMATCH", "PK - Given private key password does not allow for correct decryption"},
	{-0x3B00, "MBEDTLS_ERR_PK_INVALID_PUBKEY", "PK - The pubkey tag or value is invalid (only RSA and EC are supported)"},
	{-0x3A80, "MBEDTLS_ERR_PK_INVALID_ALG", "PK - The algorithm tag or value is invalid"},
	{-0x3A00, "MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE", "PK - Elliptic curve is unsupported (only NIST curves are supported)"},
	{-0x3980, "MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE", "PK - Unavailable feature, e.g. RSA disabled for RSA key"},
	{-0x3900, "MBEDTLS_ERR_PK_SIG_LEN_MISMATCH", "PK - The buffer contains a valid signature followed by more data"},
	{-0x3880, "MBEDTLS_ERR_PK_BUFFER_TOO_SMALL", "PK - The output buffer is too small"},
	{-0x0042, "MBEDTLS_ERR_NET_SOCKET_FAILED", "NET - Failed to open a socket"},
	{-0x0044, "MBEDTLS_ERR_NET_CONNECT_FAILED", "NET - The connection to the given server / port failed"},
	{-0x0046, "MBEDTLS_ERR_NET_BIND_FAILED", "NET - Binding of the socket failed"},
	{-0x0048, "MBEDTLS_ERR_NET_LISTEN_FAILED", "NET - Could not listen on the socket"},
	{-0x004A, "MBEDTLS_ERR_NET_ACCEPT_FAILED", "NET - Could not accept the incoming connection"},
	{-0x004C, "MBEDTLS_ERR_NET_RECV_FAILED", "NET - Reading information from the socket failed"},
	{-0x004E, "MBEDTLS_ERR_NET_SEND_FAILED", "NET - Sending information through the socket failed"},
	{-0x0050, "MBEDTLS_ERR_NET_CONN_RESET", "NET - Connection was reset by peer"},
	{-0x0052, "MBEDTLS_ERR_NET_UNKNOWN_HOST", "NET - Failed to get an IP address for the given hostname"},
	{-0x0043, "MBEDTLS_ERR_NET_BUFFER_TOO_SMALL", "NET - Buffer is too small to hold the data"},
	{-0x0045, "MBEDTLS_ERR_NET_INVALID_CONTEXT", "NET - The context is invalid, eg because it was free()ed"},
	{-0x0047, "MBEDTLS_ERR_NET_POLL_FAILED", "NET - Polling the net context failed"},
	{-0x0049, "MBEDTLS_ERR_NET_BAD_INPUT_DATA", "NET - Input invalid"},
	{-0x0060, "MBEDTLS_ERR_ASN1_OUT_OF_DATA", "ASN1 - Out of data when parsing an ASN1 data structure"},
	{-0x0062, "MBEDTLS_ERR_ASN1_UNEXPECTED_TAG", "ASN1 - ASN1 tag was of an unexpected value"},
	{-0x0064, "MBEDTLS_ERR_ASN1_INVALID_LENGTH", "ASN1 - Error when trying to determine the length or invalid length"},
	{-0x0066, "MBEDTLS_ERR_ASN1_LENGTH_MISMATCH", "ASN1 - Actual length differs from expected length"},
	{-0x0068, "MBEDTLS_ERR_ASN1_INVALID_DATA", "ASN1 - Data is invalid"},
	{-0x006A, "MBEDTLS_ERR_ASN1_ALLOC_FAILED", "ASN1 - Memory allocation failed"},
	{-0x006C, "MBEDTLS_ERR_ASN1_BUF_TOO_SMALL", "ASN1 - Buffer too small when writing ASN.1 data structure"},
	{-0x1080, "MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT", "PEM - No PEM header or footer found"},
	{-0x1100, "MBEDTLS_ERR_PEM_INVALID_DATA", "PEM - PEM string is not as expected"},
	{-0x1180, "MBEDTLS_ERR_PEM_ALLOC_FAILED", "PEM - Failed to allocate memory"},
	{-0x1200, "MBEDTLS_ERR_PEM_INVALID_ENC_IV", "PEM - RSA IV is not in hex-format"},
	{-0x1280, "MBEDTLS_ERR_PEM_UNKNOWN_ENC_ALG", "PEM - Unsupported key encryption algorithm"},
	{-0x1300, "MBEDTLS_ERR_PEM_PASSWORD_REQUIRED", "PEM - Private key password can't be empty"},
	{-0x1380, "MBEDTLS_ERR_PEM_PASSWORD_MISMATCH", "PEM - Given private key password does not allow for correct decryption"},
	{-0x1400, "MBEDTLS_ERR_PEM_FEATURE_UNAVAILABLE", "PEM - Unavailable feature, e.g. hashing/encryption combination"},
	{-0x1480, "MBEDTLS_ERR_PEM_BAD_INPUT_DATA", "PEM - Bad input parameters to function"},
	{-0x4080, "MBEDTLS_ERR_RSA_BAD_INPUT_DATA", "RSA - Bad input parameters to function"},
	{-0x4100, "MBEDTLS_ERR_RSA_INVALID_PADDING", "RSA - Input data contains invalid padding and is rejected"},
	{-0x4180, "MBEDTLS_ERR_RSA_KEY_GEN_FAILED", "RSA - Something failed during generation of a key"},
	{-0x4200, "MBEDTLS_ERR_RSA_KEY_CHECK_FAILED", "RSA - Key failed to pass the validity check of the library"},
	{-0x4280, "MBEDTLS_ERR_RSA_PUBLIC_FAILED", "RSA - The public key operation failed"},
	{-0x4300, "MBEDTLS_ERR_RSA_PRIVATE_FAILED", "RSA - The private key operation failed"},
	{-0x4380, "MBEDTLS_ERR_RSA_VERIFY_FAILED", "RSA - The PKCS#1 verification failed"},
	{-0x4400, "MBEDTLS_ERR_RSA_OUTPUT_TOO_LARGE", "RSA - The output buffer for decryption is not large enough"},
	{-0x4480, "MBEDTLS_ERR_RSA_RNG_FAILED", "RSA - The random generator failed to generate non-zeros"},
	{-0x4F80, "MBEDTLS_ERR_ECP_BAD_INPUT_DATA", "ECP - Bad input parameters to function"},
	{-0x4F00, "MBEDTLS_ERR_ECP_BUFFER_TOO_SMALL", "ECP - The buffer is too small to write to"},
	{-0x4E80, "MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE", "ECP - The requested feature is not available, for example, the requested curve is not supported"},
	{-0x4E00, "MBEDTLS_ERR_ECP_VERIFY_FAILED", "ECP - The signature is not valid"},
	{-0x4D80, "MBEDTLS_ERR_ECP_ALLOC_FAILED", "ECP - Memory allocation failed"},
	{-0x4D00, "MBEDTLS_ERR_ECP_RANDOM_FAILED", "ECP - Generation of random value, such as ephemeral key, failed"},
	{-0x4C80, "MBEDTLS_ERR_ECP_INVALID_KEY", "ECP - Invalid private or public key"},
	{-0x4C00, "MBEDTLS_ERR_ECP_SIG_LEN_MISMATCH", "ECP - The buffer contains a valid signature followed by more data"},
	{-0x4B00, "MBEDTLS_ERR_ECP_IN_PROGRESS", "ECP - Operation in progress, call again with the same parameters to continue"},
	{-0x0002, "MBEDTLS_ERR_MPI_FILE_IO_ERROR", "BIGNUM - An error occurred while reading from or writing to a file"},
	{-0x0004, "MBEDTLS_ERR_MPI_BAD_INPUT_DATA", "BIGNUM - Bad input parameters to function"},
	{-0x0006, "MBEDTLS_ERR_MPI_INVALID_CHARACTER", "BIGNUM - There is an invalid character in the digit string"},
	{-0x0008, "MBEDTLS_ERR_MPI_BUFFER_TOO_SMALL", "BIGNUM - The buffer is too small to write to"},
	{-0x000A, "MBEDTLS_ERR_MPI_NEGATIVE_VALUE", "BIGNUM - The input arguments are negative or result in illegal output"},
	{-0x000C, "MBEDTLS_ERR_MPI_DIVISION_BY_ZERO", "BIGNUM - The input argument for division is zero, which is not allowed"},
	{-0x000E, "MBEDTLS_ERR_MPI_NOT_ACCEPTABLE", "BIGNUM - The input arguments are not acceptable"},
	{-0x0010, "MBEDTLS_ERR_MPI_ALLOC_FAILED", "BIGNUM - Memory allocation failed"},
	{-0x0001, "MBEDTLS_ERR_ERROR_GENERIC_ERROR", "ERROR - Generic error"},
	{-0x006E, "MBEDTLS_ERR_ERROR_CORRUPTION_DETECTED", "ERROR - This is a bug in the library"},
}

var mbedtlsByCode = func() map[int]MbedTLSErr {
	m := make(map[int]MbedTLSErr, len(mbedtlsErrs))
	for _, e := range mbedtlsErrs {
		m[e.Code] = e
	}
	return m
}()

// MbedTLSParts splits a code into mbedTLS's high-level part (bits 7–15:
// SSL, X509, PK…) and low-level part (bits 0–6: ASN1, NET, BIGNUM…), as
// mbedtls_strerror does. hasHigh and hasLow say whether the part's bits are
// set; a part the table does not know has only its Code.
func MbedTLSParts(code int) (high, low MbedTLSErr, hasHigh, hasLow bool) {
	if code < 0 {
		code = -code
	}
	code &= 0xFFFF // mbedTLS codes are 16 bits; larger values are not codes
	part := func(c int) MbedTLSErr {
		if e, ok := mbedtlsByCode[-c]; ok {
			return e
		}
		return MbedTLSErr{Code: -c}
	}
	h, l := code&0xFF80, code&^0xFF80
	return part(h), part(l), h != 0, l != 0
}

// MbedTLSStrerror is mbedtls_strerror(code) as arduino-esp32 builds it,
// without the caller's buffer limit (the sketch's 160 bytes hold any of
// these): the high-level text, " : " and the low-level text, each
// "UNKNOWN ERROR CODE (%04X)" when mbedTLS has none; a received fatal alert
// stops after the high-level part; 0 is the empty string.
func MbedTLSStrerror(code int) string {
	high, low, hasHigh, hasLow := MbedTLSParts(code)
	var b strings.Builder
	if hasHigh {
		b.WriteString(mbedtlsText(high))
		if high.Code == MbedTLSFatalAlert {
			return b.String()
		}
	}
	if hasLow {
		if b.Len() > 0 {
			b.WriteString(" : ")
		}
		b.WriteString(mbedtlsText(low))
	}
	return b.String()
}

func mbedtlsText(e MbedTLSErr) string {
	if e.Text == "" || !e.compiled() {
		return fmt.Sprintf("UNKNOWN ERROR CODE (%04X)", -e.Code)
	}
	return e.Text
}

// MbedTLSByText finds the code whose mbedtls_strerror text is text (the
// whole combined text, or a single part); ok is false for texts it does
// not know, and for "UNKNOWN ERROR CODE (NNNN)" it returns that code.
func MbedTLSByText(text string) (code int, ok bool) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, false
	}
	total := 0
	for _, part := range strings.SplitN(text, " : ", 2) {
		c, ok := mbedtlsPartByText(part)
		if !ok {
			return 0, false
		}
		total += c
	}
	return total, true
}

func mbedtlsPartByText(part string) (int, bool) {
	var n int
	if _, err := fmt.Sscanf(part, "UNKNOWN ERROR CODE (%04X)", &n); err == nil && n > 0 && n <= 0xFFFF {
		return -n, true
	}
	for _, e := range mbedtlsErrs {
		if e.Text == part {
			return e.Code, true
		}
	}
	return 0, false
}
