// Extracted from ../shared/docs/device-side.md §3.4 (the BearSSL error and
// TLS alert tables) with a throwaway script, so that the tests hold the
// doc's exact texts independently of tables.go.

package decode

// docSSLErrors lists every getLastSSLError() code of device-side.md §3.4
// with its BearSSL name and the exact text the core prints.
var docSSLErrors = []struct {
	code       int
	name, text string
}{
	{0, "BR_ERR_OK", "Unknown error code."},
	{1, "BR_ERR_BAD_PARAM", "Caller-provided parameter is incorrect."},
	{2, "BR_ERR_BAD_STATE", "Operation requested by the caller cannot be applied with the current context state (e.g. reading data while outgoing data is waiting to be sent)."},
	{3, "BR_ERR_UNSUPPORTED_VERSION", "Incoming protocol or record version is unsupported."},
	{4, "BR_ERR_BAD_VERSION", "Incoming record version does not match the expected version."},
	{5, "BR_ERR_BAD_LENGTH", "Incoming record length is invalid."},
	{6, "BR_ERR_TOO_LARGE", "Incoming record is too large to be processed, or buffer is too small for the handshake message to send."},
	{7, "BR_ERR_BAD_MAC", "Decryption found an invalid padding, or the record MAC is not correct."},
	{8, "BR_ERR_NO_RANDOM", "No initial entropy was provided, and none can be obtained from the OS."},
	{9, "BR_ERR_UNKNOWN_TYPE", "Incoming record type is unknown."},
	{10, "BR_ERR_UNEXPECTED", "Incoming record or message has wrong type with regards to the current engine state."},
	{12, "BR_ERR_BAD_CCS", "ChangeCipherSpec message from the peer has invalid contents."},
	{13, "BR_ERR_BAD_ALERT", "Alert message from the peer has invalid contents (odd length)."},
	{14, "BR_ERR_BAD_HANDSHAKE", "Incoming handshake message decoding failed."},
	{15, "BR_ERR_OVERSIZED_ID", "ServerHello contains a session ID which is larger than 32 bytes."},
	{16, "BR_ERR_BAD_CIPHER_SUITE", "Server wants to use a cipher suite that we did not claim to support. This is also reported if we tried to advertise a cipher suite that we do not support."},
	{17, "BR_ERR_BAD_COMPRESSION", "Server wants to use a compression that we did not claim to support."},
	{18, "BR_ERR_BAD_FRAGLEN", "Server's max fragment length does not match client's."},
	{19, "BR_ERR_BAD_SECRENEG", "Secure renegotiation failed."},
	{20, "BR_ERR_EXTRA_EXTENSION", "Server sent an extension type that we did not announce, or used the same extension type several times in a single ServerHello."},
	{21, "BR_ERR_BAD_SNI", "Invalid Server Name Indication contents (when used by the server, this extension shall be empty)."},
	{22, "BR_ERR_BAD_HELLO_DONE", "Invalid ServerHelloDone from the server (length is not 0)."},
	{23, "BR_ERR_LIMIT_EXCEEDED", "Internal limit exceeded (e.g. server's public key is too large)."},
	{24, "BR_ERR_BAD_FINISHED", "Finished message from peer does not match the expected value."},
	{25, "BR_ERR_RESUME_MISMATCH", "Session resumption attempt with distinct version or cipher suite."},
	{26, "BR_ERR_INVALID_ALGORITHM", "Unsupported or invalid algorithm (ECDHE curve, signature algorithm, hash function)."},
	{27, "BR_ERR_BAD_SIGNATURE", "Invalid signature in ServerKeyExchange or CertificateVerify message."},
	{28, "BR_ERR_WRONG_KEY_USAGE", "Peer's public key does not have the proper type or is not allowed for the requested operation."},
	{29, "BR_ERR_NO_CLIENT_AUTH", "Client did not send a certificate upon request, or the client certificate could not be validated."},
	{31, "BR_ERR_IO", "I/O error or premature close on transport stream."},
	{32, "BR_ERR_X509_OK", "Unknown error code."},
	{33, "BR_ERR_X509_INVALID_VALUE", "Invalid value in an ASN.1 structure."},
	{34, "BR_ERR_X509_TRUNCATED", "Truncated certificate or other ASN.1 object."},
	{35, "BR_ERR_X509_EMPTY_CHAIN", "Empty certificate chain (no certificate at all)."},
	{36, "BR_ERR_X509_INNER_TRUNC", "Decoding error: inner element extends beyond outer element size."},
	{37, "BR_ERR_X509_BAD_TAG_CLASS", "Decoding error: unsupported tag class (application or private)."},
	{38, "BR_ERR_X509_BAD_TAG_VALUE", "Decoding error: unsupported tag value."},
	{39, "BR_ERR_X509_INDEFINITE_LENGTH", "Decoding error: indefinite length."},
	{40, "BR_ERR_X509_EXTRA_ELEMENT", "Decoding error: extraneous element."},
	{41, "BR_ERR_X509_UNEXPECTED", "Decoding error: unexpected element."},
	{42, "BR_ERR_X509_NOT_CONSTRUCTED", "Decoding error: expected constructed element, but is primitive."},
	{43, "BR_ERR_X509_NOT_PRIMITIVE", "Decoding error: expected primitive element, but is constructed."},
	{44, "BR_ERR_X509_PARTIAL_BYTE", "Decoding error: BIT STRING length is not multiple of 8."},
	{45, "BR_ERR_X509_BAD_BOOLEAN", "Decoding error: BOOLEAN value has invalid length."},
	{46, "BR_ERR_X509_OVERFLOW", "Decoding error: value is off-limits."},
	{47, "BR_ERR_X509_BAD_DN", "Invalid distinguished name."},
	{48, "BR_ERR_X509_BAD_TIME", "Invalid date/time representation."},
	{49, "BR_ERR_X509_UNSUPPORTED", "Certificate contains unsupported features that cannot be ignored."},
	{50, "BR_ERR_X509_LIMIT_EXCEEDED", "Key or signature size exceeds internal limits."},
	{51, "BR_ERR_X509_WRONG_KEY_TYPE", "Key type does not match that which was expected."},
	{52, "BR_ERR_X509_BAD_SIGNATURE", "Signature is invalid."},
	{53, "BR_ERR_X509_TIME_UNKNOWN", "Validation time is unknown."},
	{54, "BR_ERR_X509_EXPIRED", "Certificate is expired or not yet valid."},
	{55, "BR_ERR_X509_DN_MISMATCH", "Issuer/Subject DN mismatch in the chain."},
	{56, "BR_ERR_X509_BAD_SERVER_NAME", "Expected server name was not found in the chain."},
	{57, "BR_ERR_X509_CRITICAL_EXTENSION", "Unknown critical extension in certificate."},
	{58, "BR_ERR_X509_NOT_CA", "Not a CA, or path length constraint violation."},
	{59, "BR_ERR_X509_FORBIDDEN_KEY_USAGE", "Key Usage extension prohibits intended usage."},
	{60, "BR_ERR_X509_WEAK_PUBLIC_KEY", "Public key found in certificate is too small."},
	{62, "BR_ERR_X509_NOT_TRUSTED", "Chain could not be linked to a trust anchor."},
	{-1000, "OOM", "Unable to allocate memory for SSL structures and buffers."},
}

// docAlerts lists the received fatal alerts of device-side.md §3.4 with
// the text that follows "SSL received fatal alert - " on core 3.x ("…" marks
// a text the doc abbreviates).
var docAlerts = []struct {
	alert      int
	name, text string
}{
	{10, "unexpected_message", "Incoming record or message has wrong type with regards to the current engine state."},
	{20, "bad_record_mac", "Server sent an extension type that we did not announce, …"},
	{22, "record_overflow", "Invalid ServerHelloDone from the server (length is not 0)."},
	{40, "handshake_failure", "Decoding error: extraneous element."},
	{42, "bad_certificate", "Decoding error: expected constructed element, but is primitive."},
	{43, "unsupported_certificate", "Decoding error: expected primitive element, but is constructed."},
	{44, "certificate_revoked", "Decoding error: BIT STRING length is not multiple of 8."},
	{45, "certificate_expired", "Decoding error: BOOLEAN value has invalid length."},
	{46, "certificate_unknown", "Decoding error: value is off-limits."},
	{47, "illegal_parameter", "Invalid distinguished name."},
	{48, "unknown_ca", "Invalid date/time representation."},
	{49, "access_denied", "Certificate contains unsupported features that cannot be ignored."},
	{50, "decode_error", "Key or signature size exceeds internal limits."},
	{51, "decrypt_error", "Key type does not match that which was expected."},
	{70, "protocol_version", "Unknown error code."},
	{71, "insufficient_security", "Unknown error code."},
	{80, "internal_error", "Unknown error code."},
	{86, "inappropriate_fallback", "Unknown error code."},
	{90, "user_canceled", "Unknown error code."},
	{100, "no_renegotiation", "Unknown error code."},
	{109, "missing_extension", "Unknown error code."},
	{110, "unsupported_extension", "Unknown error code."},
	{112, "unrecognized_name", "Unknown error code."},
	{116, "certificate_required", "Unknown error code."},
	{120, "no_application_protocol", "Unknown error code."},
}
