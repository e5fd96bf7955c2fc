package firmware

import (
	"strings"
	"testing"
)

// Texts arduino-esp32 boards print (ssl_client.cpp's _handle_error logs
// quoted in its issue tracker, and lastError() output); the combined ones
// follow mbedtls_strerror's " : " join.
var mbedtlsVectors = []struct {
	code int
	text string
}{
	{-9984, "X509 - Certificate verification failed, e.g. CRL, CA or signature check failed"},
	{-30592, "SSL - A fatal alert message was received from our peer"},
	{-29312, "SSL - The connection indicated an EOF"},
	{-32512, "SSL - Memory allocation failed"},
	{-80, "UNKNOWN ERROR CODE (0050)"},
	{-76, "UNKNOWN ERROR CODE (004C)"},
	{-1, "ERROR - Generic error"},
	{0, ""},
	{-0x3D00, "PK - Invalid key tag or value"},
	{-0x3D62, "PK - Invalid key tag or value : ASN1 - ASN1 tag was of an unexpected value"},
	{-0x2180 - 0x62, "X509 - The CRT/CRL/CSR format is invalid, e.g. different type expected : ASN1 - ASN1 tag was of an unexpected value"},
	{-0x2700 - 0x50, "X509 - Certificate verification failed, e.g. CRL, CA or signature check failed : UNKNOWN ERROR CODE (0050)"},
	// A received alert stops after the high-level part.
	{-0x7780 - 0x50, "SSL - A fatal alert message was received from our peer"},
	{-0x5000, "UNKNOWN ERROR CODE (5000)"},
	{-0x1080, "PEM - No PEM header or footer found"},
	{-0x2680, `X509 - Signature algorithms do not match. (see \c ::mbedtls_x509_crt sig_oid)`},
}

func TestMbedTLSStrerror(t *testing.T) {
	for _, v := range mbedtlsVectors {
		if got := MbedTLSStrerror(v.code); got != v.text {
			t.Errorf("%d (-0x%04X): %q, want %q", v.code, -v.code, got, v.text)
		}
		if got := MbedTLSStrerror(-v.code); got != v.text {
			t.Errorf("%d: the sign changes the text: %q", -v.code, got)
		}
	}
}

func TestMbedTLSByText(t *testing.T) {
	for _, v := range mbedtlsVectors {
		code, ok := MbedTLSByText(v.text)
		want := v.code
		if v.code == -0x7780-0x50 {
			want = MbedTLSFatalAlert // the low part is not printed
		}
		if v.code == 0 {
			if ok {
				t.Errorf("empty text decoded as %d", code)
			}
			continue
		}
		if !ok || code != want {
			t.Errorf("%q: %d %v, want %d", v.text, code, ok, want)
		}
	}
	for _, bad := range []string{"Certificate is expired or not yet valid.", "SSL - nothing", "X509 - Certificate verification failed, e.g. CRL, CA or signature check failed : junk"} {
		if c, ok := MbedTLSByText(bad); ok {
			t.Errorf("%q decoded as %d", bad, c)
		}
	}
}

// Every entry is a well-formed high- or low-level code of its module, and
// no code or text appears twice.
func TestMbedTLSTable(t *testing.T) {
	codes, texts := map[int]bool{}, map[string]bool{}
	for _, e := range mbedtlsErrs {
		high := -e.Code&0xFF80 != 0
		if e.Code >= 0 || -e.Code > 0xFFFF || (high && -e.Code&^0xFF80 != 0) {
			t.Errorf("%s: -0x%04X is not a single-part code", e.Name, -e.Code)
		}
		if lowMod := map[string]bool{"ASN1": true, "NET": true, "MPI": true, "ERROR": true}[e.Module()]; lowMod == high {
			t.Errorf("%s: module %s in the wrong half", e.Name, e.Module())
		}
		if !strings.HasPrefix(e.Text, e.Module()+" - ") && !(e.Module() == "MPI" && strings.HasPrefix(e.Text, "BIGNUM - ")) {
			t.Errorf("%s: text %q does not name its module", e.Name, e.Text)
		}
		if codes[e.Code] || texts[e.Text] {
			t.Errorf("%s: duplicate", e.Name)
		}
		codes[e.Code], texts[e.Text] = true, true
	}
}

func FuzzMbedTLSByText(f *testing.F) {
	for _, v := range mbedtlsVectors {
		f.Add(v.text)
	}
	f.Add("UNKNOWN ERROR CODE (FFFF) : UNKNOWN ERROR CODE (0)")
	f.Fuzz(func(t *testing.T, text string) {
		code, ok := MbedTLSByText(text)
		if !ok {
			return
		}
		if code > 0 || code < -0xFFFF*2 {
			t.Fatalf("%q: code %d out of range", text, code)
		}
		MbedTLSStrerror(code)
	})
}
