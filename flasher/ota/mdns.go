package ota

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
)

// Board is one `_arduino._tcp` service found by Discover (device-side.md §5.5).
type Board struct {
	// Name is the service instance name: the host name the sketch gave
	// ArduinoOTA.setHostname (default esp8266-<chip id>).
	Name string `json:"name"`
	// Host is the SRV target, e.g. "esp8266-0a1b2c.local".
	Host string `json:"host"`
	// Addr is the board's IP address (its A record, else the address the
	// answer came from).
	Addr string `json:"addr"`
	// Port is the ArduinoOTA UDP port (0 if no SRV record arrived).
	Port int `json:"port"`
	// TXT holds every TXT key; the well-known ones are also below.
	TXT        map[string]string `json:"txt"`
	BoardID    string            `json:"board"`
	AuthUpload bool              `json:"auth_upload"`
	SSHUpload  bool              `json:"ssh_upload"`
	TCPCheck   bool              `json:"tcp_check"`
}

// DiscoverOptions configure Discover and ResolveLocal.
type DiscoverOptions struct {
	// Timeout is how long to listen for answers (default 3 s). With
	// Servers, Discover returns as soon as every server has answered.
	Timeout time.Duration
	// Servers are unicast addresses ("ip" or "ip:port", port 5353 by
	// default) to ask directly instead of the multicast group; responders
	// answer such one-shot queries from a port other than 5353 with a
	// unicast reply (RFC 6762 §6.7, "legacy unicast"), and ESP8266mDNS
	// does (LEAmDNS_Control.cpp _parseQuery). This is how to ask one known
	// board, and how tests reach a responder on loopback, which has no
	// multicast here.
	Servers []string
}

const (
	mdnsPort  = 5353
	mdnsGroup = "224.0.0.251"
)

var serviceName = dnsmessage.MustNewName(ServiceType + ".local.")

// Discover looks for ArduinoOTA boards with mDNS: it asks for PTR records
// of `_arduino._tcp.local`, follows up with SRV, TXT and A queries for what
// the answers left out, and returns the boards sorted by name. Without
// Servers it sends to 224.0.0.251:5353 on every interface that is up and
// has multicast and an IPv4 address.
func Discover(ctx context.Context, o DiscoverOptions) ([]Board, error) {
	q, err := newQuerier(o)
	if err != nil {
		return nil, err
	}
	defer q.close()
	return q.discover(ctx)
}

// ResolveLocal finds the IPv4 address of an mDNS host name
// ("esp8266-0a1b2c.local") with an A query.
func ResolveLocal(ctx context.Context, name string, o DiscoverOptions) (net.IP, error) {
	q, err := newQuerier(o)
	if err != nil {
		return nil, err
	}
	defer q.close()
	return q.resolve(ctx, name)
}

type querier struct {
	o       DiscoverOptions
	conn    *net.UDPConn
	pc      *ipv4.PacketConn
	servers []*net.UDPAddr
	ifaces  []net.Interface
	cache   *mdnsCache
}

func newQuerier(o DiscoverOptions) (*querier, error) {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	q := &querier{o: o, cache: newCache()}
	bind := &net.UDPAddr{IP: net.IPv4zero}
	if len(o.Servers) > 0 {
		allLoop := true
		for _, s := range o.Servers {
			a, err := serverAddr(s)
			if err != nil {
				return nil, err
			}
			q.servers = append(q.servers, a)
			allLoop = allLoop && a.IP.IsLoopback()
		}
		if allLoop {
			bind.IP = net.IPv4(127, 0, 0, 1)
		}
	} else {
		ifs, err := multicastInterfaces()
		if err != nil {
			return nil, err
		}
		q.ifaces = ifs
	}
	conn, err := net.ListenUDP("udp4", bind)
	if err != nil {
		return nil, fmt.Errorf("mDNS: cannot open a UDP socket: %w", err)
	}
	q.conn = conn
	if len(q.ifaces) > 0 {
		q.pc = ipv4.NewPacketConn(conn)
		// RFC 6762 §11: mDNS packets go out with IP TTL 255.
		q.pc.SetMulticastTTL(255)
		q.pc.SetMulticastLoopback(true)
	}
	return q, nil
}

func (q *querier) close() { q.conn.Close() }

func serverAddr(s string) (*net.UDPAddr, error) {
	host, port := s, strconv.Itoa(mdnsPort)
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	ip := net.ParseIP(host)
	pn, err := strconv.Atoi(port)
	if ip == nil || ip.To4() == nil || err != nil || pn <= 0 || pn > 65535 {
		return nil, fmt.Errorf("mDNS server %q: give an IPv4 address, optionally with :port (default %d)", s, mdnsPort)
	}
	return &net.UDPAddr{IP: ip.To4(), Port: pn}, nil
}

func multicastInterfaces() ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("mDNS: listing network interfaces: %w", err)
	}
	var out []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				out = append(out, ifi)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("mDNS: no network interface is up with multicast and an IPv4 address: connect this computer to the boards' network, or ask a board directly with --host")
	}
	return out, nil
}

// send asks one question, to the servers or to the multicast group on
// every interface. Each query has one question: ESP8266mDNS answers a
// legacy (non-5353 port) query only when it has exactly one.
func (q *querier) send(name dnsmessage.Name, t dnsmessage.Type, to *net.UDPAddr) {
	msg, err := buildQuery(name, t)
	if err != nil {
		return
	}
	switch {
	case to != nil:
		q.conn.WriteToUDP(msg, to)
	case len(q.servers) > 0:
		for _, s := range q.servers {
			q.conn.WriteToUDP(msg, s)
		}
	default:
		group := &net.UDPAddr{IP: net.ParseIP(mdnsGroup), Port: mdnsPort}
		for i := range q.ifaces {
			if q.pc.SetMulticastInterface(&q.ifaces[i]) == nil {
				q.conn.WriteToUDP(msg, group)
			}
		}
	}
}

func buildQuery(name dnsmessage.Name, t dnsmessage.Type) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: uint16(rand.Uint32())})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// run sends the first query, repeats it at growing intervals and feeds every answer to the cache until the deadline,
// ctx, or enough() says the answers are complete.
func (q *querier) run(ctx context.Context, ask func(), enough func() bool, followUp func()) error {
	deadline := time.Now().Add(q.o.Timeout)
	stop := context.AfterFunc(ctx, func() { q.conn.Close() })
	defer stop()
	ask()
	// RFC 6762 §5.2 spaces multicast repeats from 1 s; a unicast question
	// to one responder can be repeated sooner.
	gap := time.Second
	if len(q.servers) > 0 {
		gap = 200 * time.Millisecond
	}
	next := time.Now().Add(gap)
	buf := make([]byte, 9000)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		now := time.Now()
		if !now.Before(deadline) {
			return nil
		}
		if !now.Before(next) {
			ask()
			gap *= 2
			next = now.Add(gap)
		}
		q.conn.SetReadDeadline(minTime(deadline, next))
		n, from, err := q.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// An ICMP error from a unicast server that is down: keep
			// listening for the others until the deadline.
			continue
		}
		rrs, err := ParseResponse(buf[:n])
		if err != nil {
			continue
		}
		q.cache.add(rrs, from)
		if enough() {
			return nil
		}
		followUp()
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (q *querier) discover(ctx context.Context) ([]Board, error) {
	asked := map[string]bool{}
	followUp := func() {
		for _, inst := range q.cache.instances() {
			src := q.cache.source[inst]
			to := &net.UDPAddr{IP: src.IP, Port: mdnsPort}
			if len(q.servers) > 0 {
				to = src
			}
			name, err := dnsmessage.NewName(inst)
			if err != nil {
				continue
			}
			if _, ok := q.cache.srv[inst]; !ok && !asked["srv "+inst] {
				asked["srv "+inst] = true
				q.send(name, dnsmessage.TypeSRV, to)
			}
			if _, ok := q.cache.txt[inst]; !ok && !asked["txt "+inst] {
				asked["txt "+inst] = true
				q.send(name, dnsmessage.TypeTXT, to)
			}
			if s, ok := q.cache.srv[inst]; ok {
				if _, ok := q.cache.a[s.target]; !ok && !asked["a "+s.target] {
					asked["a "+s.target] = true
					if hn, err := dnsmessage.NewName(s.target); err == nil {
						q.send(hn, dnsmessage.TypeA, to)
					}
				}
			}
		}
	}
	// With servers, the question is answered once each server has given a
	// complete record; a multicast question has no known end.
	enough := func() bool {
		if len(q.servers) == 0 {
			return false
		}
		done := map[string]bool{}
		for _, inst := range q.cache.instances() {
			if q.cache.complete(inst) {
				done[q.cache.source[inst].String()] = true
			}
		}
		for _, s := range q.servers {
			if !done[s.String()] {
				return false
			}
		}
		return true
	}
	err := q.run(ctx, func() { q.send(serviceName, dnsmessage.TypePTR, nil) }, enough, followUp)
	boards := q.cache.boards()
	if err != nil {
		return boards, err
	}
	return boards, nil
}

func (q *querier) resolve(ctx context.Context, host string) (net.IP, error) {
	host = strings.ToLower(strings.TrimSuffix(host, ".")) + "."
	name, err := dnsmessage.NewName(host)
	if err != nil {
		return nil, fmt.Errorf("mDNS: %q is not a host name: %w", host, err)
	}
	enough := func() bool { _, ok := q.cache.a[host]; return ok }
	if err := q.run(ctx, func() { q.send(name, dnsmessage.TypeA, nil) }, enough, func() {}); err != nil {
		return nil, err
	}
	if ip, ok := q.cache.a[host]; ok {
		return ip, nil
	}
	return nil, fmt.Errorf("mDNS: no answer for %s within %s: the board is off, not on this network, or not advertising (its sketch must call ArduinoOTA.handle())", strings.TrimSuffix(host, "."), q.o.Timeout)
}

// Record is one resource record of an mDNS answer that discovery uses.
type Record struct {
	Name string // owner name, lower case, with the trailing dot
	Type dnsmessage.Type
	// PTR target or SRV target (lower case, trailing dot).
	Target string
	Port   int
	TXT    []string
	IP     net.IP
	TTL    uint32
}

// ParseResponse reads the PTR, SRV, TXT and A records of an mDNS or DNS
// response (answers and additionals; RFC 6762 §6 puts the SRV, TXT and A
// records for a PTR answer in the additional section). It refuses queries
// and error responses; other record types are skipped.
func ParseResponse(b []byte) ([]Record, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return nil, fmt.Errorf("mDNS: bad message: %w", err)
	}
	if !h.Response {
		return nil, errors.New("mDNS: a query, not a response")
	}
	if h.RCode != dnsmessage.RCodeSuccess {
		return nil, fmt.Errorf("mDNS: response code %v", h.RCode)
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, fmt.Errorf("mDNS: bad question section: %w", err)
	}
	var out []Record
	section := func(next func() (dnsmessage.ResourceHeader, error), skip func() error) error {
		for {
			rh, err := next()
			if errors.Is(err, dnsmessage.ErrSectionDone) {
				return nil
			}
			if err != nil {
				return err
			}
			r := Record{Name: strings.ToLower(rh.Name.String()), Type: rh.Type, TTL: rh.TTL}
			switch rh.Type {
			case dnsmessage.TypePTR:
				v, err := p.PTRResource()
				if err != nil {
					return err
				}
				r.Target = strings.ToLower(v.PTR.String())
			case dnsmessage.TypeSRV:
				v, err := p.SRVResource()
				if err != nil {
					return err
				}
				r.Target, r.Port = strings.ToLower(v.Target.String()), int(v.Port)
			case dnsmessage.TypeTXT:
				v, err := p.TXTResource()
				if err != nil {
					return err
				}
				r.TXT = v.TXT
			case dnsmessage.TypeA:
				v, err := p.AResource()
				if err != nil {
					return err
				}
				r.IP = net.IP(v.A[:]).To4()
			default:
				if err := skip(); err != nil {
					return err
				}
				continue
			}
			out = append(out, r)
		}
	}
	if err := section(p.AnswerHeader, p.SkipAnswer); err != nil {
		return nil, fmt.Errorf("mDNS: bad answer section: %w", err)
	}
	if err := p.SkipAllAuthorities(); err != nil {
		return out, nil
	}
	if err := section(p.AdditionalHeader, p.SkipAdditional); err != nil {
		// Answers already read are good; a broken additional section
		// only loses hints that follow-up queries can get again.
		return out, nil
	}
	return out, nil
}

type srvRec struct {
	target string
	port   int
}

// mdnsCache joins records from many packets into boards.
type mdnsCache struct {
	ptr    map[string]bool // instance names of _arduino._tcp
	srv    map[string]srvRec
	txt    map[string][]string
	a      map[string]net.IP
	source map[string]*net.UDPAddr // where each instance's PTR came from
}

func newCache() *mdnsCache {
	return &mdnsCache{ptr: map[string]bool{}, srv: map[string]srvRec{}, txt: map[string][]string{}, a: map[string]net.IP{}, source: map[string]*net.UDPAddr{}}
}

func (c *mdnsCache) add(rrs []Record, from *net.UDPAddr) {
	svc := strings.ToLower(serviceName.String())
	for _, r := range rrs {
		switch r.Type {
		case dnsmessage.TypePTR:
			if r.Name == svc && strings.HasSuffix(r.Target, "."+svc) {
				// A TTL of 0 is a goodbye (RFC 6762 §10.1): the board is leaving.
				if r.TTL == 0 {
					delete(c.ptr, r.Target)
					continue
				}
				c.ptr[r.Target] = true
				c.source[r.Target] = from
			}
		case dnsmessage.TypeSRV:
			c.srv[r.Name] = srvRec{target: r.Target, port: r.Port}
		case dnsmessage.TypeTXT:
			c.txt[r.Name] = r.TXT
		case dnsmessage.TypeA:
			if r.IP != nil {
				c.a[r.Name] = r.IP
			}
		}
	}
}

func (c *mdnsCache) instances() []string {
	out := make([]string, 0, len(c.ptr))
	for k := range c.ptr {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (c *mdnsCache) complete(inst string) bool {
	s, ok := c.srv[inst]
	if !ok {
		return false
	}
	_, hasTXT := c.txt[inst]
	_, hasA := c.a[s.target]
	return hasTXT && hasA
}

func (c *mdnsCache) boards() []Board {
	svc := "." + strings.ToLower(serviceName.String())
	var out []Board
	for _, inst := range c.instances() {
		b := Board{Name: printable(strings.TrimSuffix(inst, svc)), TXT: map[string]string{}}
		if src := c.source[inst]; src != nil {
			b.Addr = src.IP.String()
		}
		if s, ok := c.srv[inst]; ok {
			b.Host, b.Port = printable(strings.TrimSuffix(s.target, ".")), s.port
			if ip, ok := c.a[s.target]; ok {
				b.Addr = ip.String()
			}
		}
		for _, kv := range c.txt[inst] {
			k, v, _ := strings.Cut(kv, "=")
			if k == "" {
				continue
			}
			// RFC 6763 §6.4: keys are case-insensitive; the first wins.
			k = printable(strings.ToLower(k))
			if _, dup := b.TXT[k]; !dup {
				b.TXT[k] = printable(v)
			}
		}
		b.BoardID = b.TXT[TXTBoard]
		b.AuthUpload = b.TXT[TXTAuthUpload] == "yes"
		b.SSHUpload = b.TXT[TXTSSHUpload] == "yes"
		b.TCPCheck = b.TXT[TXTTCPCheck] == "yes"
		out = append(out, b)
	}
	return out
}
