package ota

import (
	"net"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// response builds an mDNS answer the way a responder does: a PTR answer
// with SRV, TXT and A records in the additional section.
func response(t testing.TB, answers, extra []dnsmessage.Resource) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true, Authoritative: true})
	b.EnableCompression()
	add := func(rs []dnsmessage.Resource) {
		for _, r := range rs {
			var err error
			switch body := r.Body.(type) {
			case *dnsmessage.PTRResource:
				err = b.PTRResource(r.Header, *body)
			case *dnsmessage.SRVResource:
				err = b.SRVResource(r.Header, *body)
			case *dnsmessage.TXTResource:
				err = b.TXTResource(r.Header, *body)
			case *dnsmessage.AResource:
				err = b.AResource(r.Header, *body)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	b.StartAnswers()
	add(answers)
	b.StartAdditionals()
	add(extra)
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func rr(name string, ttl uint32, body dnsmessage.ResourceBody) dnsmessage.Resource {
	// 0x8001: class IN with the cache-flush bit, as mDNS responders send.
	return dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: 0x8001, TTL: ttl}, Body: body}
}

func TestParseResponseJoinsBoards(t *testing.T) {
	inst := "Bench-01._arduino._tcp.local."
	msg := response(t,
		[]dnsmessage.Resource{rr("_arduino._tcp.local.", 4500, &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(inst)})},
		[]dnsmessage.Resource{
			rr(inst, 120, &dnsmessage.SRVResource{Target: dnsmessage.MustNewName("bench-01.local."), Port: 8266}),
			rr(inst, 4500, &dnsmessage.TXTResource{TXT: []string{"tcp_check=no", "ssh_upload=no", "board=d1_mini", "auth_upload=yes", "Board=ignored", "flag"}}),
			rr("bench-01.local.", 120, &dnsmessage.AResource{A: [4]byte{192, 168, 1, 20}}),
		})
	rrs, err := ParseResponse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rrs) != 4 {
		t.Fatalf("%d records: %+v", len(rrs), rrs)
	}
	c := newCache()
	c.add(rrs, &net.UDPAddr{IP: net.IPv4(192, 168, 1, 99), Port: 5353})
	bs := c.boards()
	if len(bs) != 1 {
		t.Fatalf("boards %+v", bs)
	}
	b := bs[0]
	if b.Name != "bench-01" || b.Host != "bench-01.local" || b.Addr != "192.168.1.20" || b.Port != 8266 ||
		b.BoardID != "d1_mini" || !b.AuthUpload || b.SSHUpload || b.TCPCheck || b.TXT["flag"] != "" || len(b.TXT) != 5 {
		t.Errorf("board %+v", b)
	}
	if !c.complete("bench-01._arduino._tcp.local.") {
		t.Error("record should be complete")
	}
	// A goodbye (TTL 0) removes the board.
	bye := response(t, []dnsmessage.Resource{rr("_arduino._tcp.local.", 0, &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(inst)})}, nil)
	rrs, _ = ParseResponse(bye)
	c.add(rrs, nil)
	if len(c.boards()) != 0 {
		t.Error("goodbye did not remove the board")
	}
}

func TestParseResponseRefuses(t *testing.T) {
	q, err := buildQuery(serviceName, dnsmessage.TypePTR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseResponse(q); err == nil {
		t.Error("a query was accepted as a response")
	}
	if _, err := ParseResponse([]byte{1, 2, 3}); err == nil {
		t.Error("garbage accepted")
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true, RCode: dnsmessage.RCodeNameError})
	msg, _ := b.Finish()
	if _, err := ParseResponse(msg); err == nil {
		t.Error("NXDOMAIN accepted")
	}
	if _, err := serverAddr("not-an-ip"); err == nil {
		t.Error("bad server accepted")
	}
	if a, err := serverAddr("127.0.0.1"); err != nil || a.Port != 5353 {
		t.Errorf("default port: %v %v", a, err)
	}
}

func FuzzParseResponse(f *testing.F) {
	inst := "esp8266-0a1b2c._arduino._tcp.local."
	f.Add(response(f,
		[]dnsmessage.Resource{rr("_arduino._tcp.local.", 4500, &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(inst)})},
		[]dnsmessage.Resource{
			rr(inst, 120, &dnsmessage.SRVResource{Target: dnsmessage.MustNewName("esp8266-0a1b2c.local."), Port: 8266}),
			rr(inst, 4500, &dnsmessage.TXTResource{TXT: []string{"board=generic", "auth_upload=no"}}),
			rr("esp8266-0a1b2c.local.", 120, &dnsmessage.AResource{A: [4]byte{10, 0, 0, 7}}),
		}))
	f.Add([]byte{0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rrs, err := ParseResponse(b)
		if err != nil {
			return
		}
		c := newCache()
		c.add(rrs, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353})
		for _, bd := range c.boards() {
			for _, s := range []string{bd.Name, bd.Host, bd.BoardID} {
				checkPrintable(t, s)
			}
			for k, v := range bd.TXT {
				checkPrintable(t, k)
				checkPrintable(t, v)
			}
		}
	})
}
