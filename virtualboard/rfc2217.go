package virtualboard

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/iotbench/iotbench/serialmon/rfc2217"
)

// RFC2217Server serves the board's UART over RFC 2217 on a TCP address
// (loopback by default), the way esptool's esp_rfc2217_server serves a
// real board: one client at a time; DTR/RTS changes arrive one Telnet
// message at a time, too far apart to reproduce a reset's timing, so —
// like esp_rfc2217_server — the start of a reset sequence is recognised
// and the proper sequence is played on the board locally (DTR asserted
// outside a reset: unix-tight reset into the loader; RTS released outside
// one: hard reset).
type RFC2217Server struct {
	b  *Board
	ln net.Listener

	mu     sync.Mutex
	active *rfcClient
	closed bool
	wg     sync.WaitGroup
}

// ServeRFC2217 listens on addr ("127.0.0.1:0" for any free loopback port).
func (b *Board) ServeRFC2217(addr string) (*RFC2217Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("virtual board RFC 2217 server: %w", err)
	}
	s := &RFC2217Server{b: b, ln: ln}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the listening address.
func (s *RFC2217Server) Addr() net.Addr { return s.ln.Addr() }

// URL is what to pass as --port (iotbench or esptool).
func (s *RFC2217Server) URL() string { return "rfc2217://" + s.ln.Addr().String() }

// Close stops listening and drops the client.
func (s *RFC2217Server) Close() error {
	s.mu.Lock()
	s.closed = true
	c := s.active
	s.mu.Unlock()
	err := s.ln.Close()
	if c != nil {
		c.sc.Close()
	}
	s.wg.Wait()
	return err
}

func (s *RFC2217Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		// One client at a time, like a serial port opened exclusively. A
		// client that reconnects right after closing may arrive before the
		// server has noticed the close; give the old session a moment.
		s.mu.Lock()
		prev := s.active
		s.mu.Unlock()
		if prev != nil {
			select {
			case <-prev.done:
			case <-time.After(2 * time.Second):
			}
		}
		s.mu.Lock()
		if s.closed || s.active != nil {
			s.mu.Unlock()
			conn.Close()
			continue
		}
		if err := s.b.attachHost("RFC 2217 client " + conn.RemoteAddr().String()); err != nil {
			s.mu.Unlock()
			s.b.logf("RFC 2217: refusing %s: %v", conn.RemoteAddr(), err)
			conn.Close()
			continue
		}
		owner := "RFC 2217 client " + conn.RemoteAddr().String()
		c := &rfcClient{b: s.b, baud: 115200, done: make(chan struct{})}
		c.sc = rfc2217.NewServerConn(conn, c)
		s.active = c
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			s.b.detachHost(owner)
			s.mu.Lock()
			s.active = nil
			s.mu.Unlock()
			close(c.done)
		}()
	}
}

// rfcClient bridges one RFC 2217 client to the board.
type rfcClient struct {
	b  *Board
	sc *rfc2217.ServerConn

	mu       sync.Mutex
	baud     int
	download bool // a reset into the loader is in progress (esp_rfc2217_server's is_download_mode)
	resets   sync.WaitGroup
	done     chan struct{}
}

func (c *rfcClient) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	pumpDone := make(chan struct{})
	go func() {
		defer close(pumpDone)
		buf := make([]byte, 4096)
		for {
			n, err := c.b.toHost.recv(ctx, buf, rxState{baud: c.getBaud}, -1)
			if err != nil {
				return
			}
			if _, err := c.sc.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	c.sc.Run()
	cancel()
	<-pumpDone
	c.sc.Close()
	c.resets.Wait()
}

func (c *rfcClient) getBaud() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.baud
}

func (c *rfcClient) SetBaudRate(baud int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if baud > 0 {
		c.baud = baud
	}
	return c.baud
}

// The UART is fixed at 8N1; the acks say so.
func (c *rfcClient) SetDataSize(int) int { return 8 }
func (c *rfcClient) SetParity(int) int   { return rfc2217.ParityNone }
func (c *rfcClient) SetStopSize(int) int { return rfc2217.StopSize1 }

func (c *rfcClient) SetControl(v byte) byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch v {
	case rfc2217.ControlDTROff:
		c.download = false
		c.b.SetDTR(false)
	case rfc2217.ControlRTSOff:
		if !c.download {
			c.spawn(func() {
				// esptool's HardReset: EN low for 100 ms with IO0 released.
				c.b.SetRTS(true)
				time.Sleep(100 * time.Millisecond)
				c.b.SetRTS(false)
			})
		}
	case rfc2217.ControlDTROn:
		if !c.download {
			c.download = true
			c.spawn(func() {
				if c.b.cfg.USBJTAGSerial {
					// The chip's own USB port needs esptool's USB-JTAG-serial
					// sequence (§6.1); esp_rfc2217_server runs it when
					// configured with it as custom_reset_sequence.
					// The controller decodes states, not timing, so the
					// states follow each other at once.
					c.b.SetLines(false, false)
					c.b.SetLines(true, false)
					c.b.SetLines(true, true)
					c.b.SetLines(false, true)
					time.Sleep(100 * time.Millisecond)
					c.b.SetLines(false, false)
					return
				}
				// esptool's UnixTightReset with the default 50 ms delay (§6.1).
				c.b.SetLines(false, false)
				c.b.SetLines(true, true)
				c.b.SetLines(false, true)
				time.Sleep(100 * time.Millisecond)
				c.b.SetLines(true, false)
				time.Sleep(50 * time.Millisecond)
				c.b.SetLines(false, false)
			})
		}
	}
	return v
}

func (c *rfcClient) spawn(f func()) {
	c.resets.Add(1)
	go func() { defer c.resets.Done(); f() }()
}

func (c *rfcClient) Purge(which byte) {
	if which&rfc2217.PurgeReceive != 0 {
		c.b.toHost.purge()
	}
	if which&rfc2217.PurgeTransmit != 0 {
		c.b.toChip.purge()
	}
}

func (c *rfcClient) Received(data []byte) { c.b.toChip.send(data, c.getBaud()) }
