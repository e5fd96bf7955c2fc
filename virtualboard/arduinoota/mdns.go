package arduinoota

import (
	"errors"
	"net"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/iotbench/iotbench/flasher/ota"
)

// probeTime is how long ESP8266mDNS (LEAmDNS) probes its names before it
// answers queries: three probes 250 ms apart after a random start delay
// of up to 250 ms (RFC 6762 §8.1). Probing advances only in MDNS.update(),
// which ArduinoOTA.handle() calls, so a sketch that never calls handle()
// is never found.
const probeTime = time.Second

// mdnsPort is the port a real querier sends from; anything else is a
// one-shot "legacy" query (RFC 6762 §6.7).
const mdnsPort = 5353

// TTLs LEAmDNS gives its records (MDNS_HOST_TTL and MDNS_SERVICE_TTL,
// 120 s and 4500 s), capped at 10 s in answers to legacy queries (§6.7).
const (
	hostTTL   = 120
	svcTTL    = 4500
	legacyTTL = 10
)

func (d *Device) serveMDNS() {
	defer d.wg.Done()
	buf := make([]byte, 9000)
	for {
		n, from, err := d.mdns.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if resp := d.answerMDNS(buf[:n], from); resp != nil {
			d.mdns.WriteToUDP(resp, from)
		}
	}
}

// advertised returns the running OTA's host name and TXT records once its
// mDNS names are probed, or ok=false while nothing is advertised.
func (d *Device) advertised() (host string, txt []string, port int, ok bool) {
	o := d.current()
	if o == nil {
		return "", nil, 0, false
	}
	o.mu.Lock()
	probed := o.probed
	o.mu.Unlock()
	if !probed {
		return "", nil, 0, false
	}
	auth := "no"
	if o.pass != "" {
		auth = "yes"
	}
	// MDNSResponder::enableArduino adds them in this order.
	txt = []string{ota.TXTTCPCheck + "=no", ota.TXTSSHUpload + "=no", ota.TXTBoard + "=" + d.cfg.BoardID, ota.TXTAuthUpload + "=" + auth}
	return o.host, txt, d.Addr().Port, true
}

// answerMDNS builds the response to one query, or nil when nothing in it
// is ours (mDNS responders stay silent rather than answer negatively).
func (d *Device) answerMDNS(msg []byte, from *net.UDPAddr) []byte {
	host, txt, port, ok := d.advertised()
	if !ok {
		return nil
	}
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.Response || h.OpCode != 0 {
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) == 0 {
		return nil
	}
	legacy := from.Port != mdnsPort
	// LEAmDNS answers a legacy query only when it has one question.
	if legacy && len(qs) != 1 {
		return nil
	}
	svc := strings.ToLower(ota.ServiceType + ".local.")
	instName := strings.ToLower(host) + "." + svc
	hostName := strings.ToLower(host) + ".local."
	names := map[string]dnsmessage.Name{}
	for _, n := range []string{svc, instName, hostName, "_services._dns-sd._udp.local."} {
		nn, err := dnsmessage.NewName(n)
		if err != nil {
			return nil
		}
		names[n] = nn
	}
	ttl := func(t uint32) uint32 {
		if legacy {
			return min(t, legacyTTL)
		}
		return t
	}
	class := dnsmessage.ClassINET
	hdr := func(name string, ttl uint32) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: names[name], Class: class, TTL: ttl}
	}
	ptr := func() dnsmessage.Resource {
		return dnsmessage.Resource{Header: hdr(svc, ttl(svcTTL)), Body: &dnsmessage.PTRResource{PTR: names[instName]}}
	}
	srv := func() dnsmessage.Resource {
		return dnsmessage.Resource{Header: hdr(instName, ttl(hostTTL)), Body: &dnsmessage.SRVResource{Target: names[hostName], Port: uint16(port)}}
	}
	txtRR := func() dnsmessage.Resource {
		return dnsmessage.Resource{Header: hdr(instName, ttl(svcTTL)), Body: &dnsmessage.TXTResource{TXT: txt}}
	}
	a := func() dnsmessage.Resource {
		var ip [4]byte
		copy(ip[:], d.ip)
		return dnsmessage.Resource{Header: hdr(hostName, ttl(hostTTL)), Body: &dnsmessage.AResource{A: ip}}
	}
	var answers, extra []dnsmessage.Resource
	has := map[string]bool{}
	add := func(list *[]dnsmessage.Resource, key string, r func() dnsmessage.Resource) {
		if !has[key] {
			has[key] = true
			*list = append(*list, r())
		}
	}
	for _, q := range qs {
		name := strings.ToLower(q.Name.String())
		qc := q.Class &^ 0x8000 // the top bit asks for a unicast reply
		if qc != dnsmessage.ClassINET && qc != dnsmessage.ClassANY {
			continue
		}
		is := func(t dnsmessage.Type) bool { return q.Type == t || q.Type == dnsmessage.TypeALL }
		switch name {
		case svc:
			if is(dnsmessage.TypePTR) {
				add(&answers, "ptr", ptr)
			}
		case "_services._dns-sd._udp.local.":
			if is(dnsmessage.TypePTR) {
				answers = append(answers, dnsmessage.Resource{Header: hdr("_services._dns-sd._udp.local.", ttl(svcTTL)), Body: &dnsmessage.PTRResource{PTR: names[svc]}})
			}
		case instName:
			if is(dnsmessage.TypeSRV) {
				add(&answers, "srv", srv)
			}
			if is(dnsmessage.TypeTXT) {
				add(&answers, "txt", txtRR)
			}
		case hostName:
			if is(dnsmessage.TypeA) {
				add(&answers, "a", a)
			}
		}
	}
	if len(answers) == 0 {
		return nil
	}
	// RFC 6763 §12: a PTR answer brings the SRV, TXT and address records
	// along; an SRV answer brings the address.
	if has["ptr"] {
		add(&extra, "srv", srv)
		add(&extra, "txt", txtRR)
	}
	if has["srv"] {
		add(&extra, "a", a)
	}
	rh := dnsmessage.Header{Response: true, Authoritative: true}
	if legacy {
		rh.ID = h.ID // a legacy resolver matches the reply by ID
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if legacy {
		// §6.7: the legacy reply repeats the question.
		b.StartQuestions()
		b.Question(qs[0])
	}
	b.StartAnswers()
	for _, r := range answers {
		if addResource(&b, r) != nil {
			return nil
		}
	}
	b.StartAdditionals()
	for _, r := range extra {
		if addResource(&b, r) != nil {
			return nil
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

func addResource(b *dnsmessage.Builder, r dnsmessage.Resource) error {
	switch body := r.Body.(type) {
	case *dnsmessage.PTRResource:
		return b.PTRResource(r.Header, *body)
	case *dnsmessage.SRVResource:
		return b.SRVResource(r.Header, *body)
	case *dnsmessage.TXTResource:
		return b.TXTResource(r.Header, *body)
	case *dnsmessage.AResource:
		return b.AResource(r.Header, *body)
	}
	return errors.New("unsupported record")
}
