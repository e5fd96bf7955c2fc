package rfc2217

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// Handler is the serial port behind a ServerConn, implemented by the
// server application (the virtual board, a bridge to a real UART). Its
// methods are called one at a time from the goroutine running
// ServerConn.Run, in exactly the order the client's data and requests
// appear on the TCP stream, so "DTR on, RTS off, data" arrives in that
// order.
//
// For the Set* methods a zero argument is the client asking for the
// current setting: return it unchanged. The return value is what the
// client is told is now in effect; returning something other than what was
// asked for is how a request is rejected.
type Handler interface {
	SetBaudRate(baud int) int
	SetDataSize(bits int) int // 5..8
	SetParity(parity int) int // ParityNone etc.
	SetStopSize(stop int) int // StopSize1 etc.
	// SetControl receives a SET-CONTROL value (ControlDTROn, ControlRTSOff,
	// ControlBreakOn, ControlNoFlow, or a *Request value asking for the
	// state) and returns the value to acknowledge.
	SetControl(value byte) byte
	// Purge discards buffered data: PurgeReceive is data from the device
	// not yet sent to the client, PurgeTransmit data from the client not
	// yet sent to the device, PurgeBoth both. The acknowledgement is sent
	// after Purge returns, so anything written with ServerConn.Write
	// before that is discarded by a purging client.
	Purge(which byte)
	// Received gets plain data from the client, unescaped, in order. The
	// slice is only valid during the call.
	Received(data []byte)
}

// ModemStater may be implemented by a Handler to answer the client's
// NOTIFY-MODEMSTATE polls (bits 0x80 CD, 0x40 RI, 0x20 DSR, 0x10 CTS).
// Without it the answer is 0.
type ModemStater interface {
	ModemState() byte
}

// ServerConn is the server side of one RFC 2217 connection. Create it with
// NewServerConn, then call Run (typically in the goroutine that accepted
// the connection). The split lets the handler hold the ServerConn for its
// Writes before the first callback can happen.
type ServerConn struct {
	conn    net.Conn
	h       Handler
	done    chan struct{}
	started atomic.Bool
	closed  atomic.Bool
	wmu     sync.Mutex // acks and data never interleave mid-message

	// Owned by the Run goroutine.
	dec Decoder
	neg negotiator

	mu        sync.Mutex
	modemMask byte
}

// NewServerConn prepares to serve conn with h. Nothing is read until Run.
func NewServerConn(conn net.Conn, h Handler) *ServerConn {
	s := &ServerConn{conn: conn, h: h, done: make(chan struct{}), modemMask: 0xff}
	// What pyserial's client asks for: BINARY and SGA both ways, and
	// COM-PORT-OPTION. ECHO is refused; a serial line does not echo.
	accept := func(opt byte) bool { return opt == OptBinary || opt == OptSGA || opt == OptComPort }
	s.neg.acceptUs = accept
	s.neg.acceptHim = accept
	return s
}

// Run reads the client's stream and dispatches it to the handler until the
// client disconnects (EOF or reset) or Close is called; these return nil. Any other read
// error is returned. Run must be called once; Done is closed when it
// returns.
func (s *ServerConn) Run() error {
	if s.started.Swap(true) {
		return errors.New("rfc2217: ServerConn.Run called twice")
	}
	defer close(s.done)
	buf := make([]byte, 16<<10)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			s.dec.Feed(buf[:n], s.event)
		}
		if err != nil {
			// A reset is how many clients hang up (closing with unread
			// data sends RST), so it counts as a disconnect too.
			if s.closed.Load() || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				return nil
			}
			return fmt.Errorf("rfc2217 server: connection from %v: %w", s.conn.RemoteAddr(), err)
		}
	}
}

func (s *ServerConn) event(ev Event) {
	switch ev.Kind {
	case EventData:
		s.h.Received(ev.Data)
	case EventNegotiation:
		if r := s.neg.receive(nil, ev.Cmd, ev.Option); len(r) > 0 {
			s.writeRaw(r)
		}
	case EventSubnegotiation:
		if ev.Option == OptComPort && len(ev.Data) > 0 {
			s.comPort(ev.Data[0], ev.Data[1:])
		}
	}
	// Commands (NOP, GA...) and malformed input are ignored: nothing a
	// client can send should stop the session.
}

func (s *ServerConn) comPort(code byte, v []byte) {
	arg := 0 // zero asks for the current value
	if len(v) > 0 {
		arg = int(v[0])
	}
	switch code {
	case CmdSignature:
		// With text the client tells us its name, which needs no answer;
		// without, it asks for ours.
		if len(v) == 0 {
			s.reply(code, []byte(signature))
		}
	case CmdSetBaudRate:
		baud := 0
		if len(v) >= 4 {
			if u := binary.BigEndian.Uint32(v); uint64(u) <= math.MaxInt {
				baud = int(u)
			}
		}
		got := s.h.SetBaudRate(baud)
		var ack uint32
		if got > 0 && uint64(got) <= math.MaxUint32 {
			ack = uint32(got)
		}
		s.reply(code, be32(ack))
	case CmdSetDataSize:
		s.reply(code, []byte{clampByte(s.h.SetDataSize(arg))})
	case CmdSetParity:
		s.reply(code, []byte{clampByte(s.h.SetParity(arg))})
	case CmdSetStopSize:
		s.reply(code, []byte{clampByte(s.h.SetStopSize(arg))})
	case CmdSetControl:
		if len(v) > 0 {
			s.reply(code, []byte{s.h.SetControl(v[0])})
		}
	case CmdNotifyLineState:
		s.reply(code, []byte{0}) // no line errors to report
	case CmdNotifyModemState:
		var state byte
		if ms, ok := s.h.(ModemStater); ok {
			state = ms.ModemState()
		}
		s.mu.Lock()
		state &= s.modemMask
		s.mu.Unlock()
		s.reply(code, []byte{state})
	case CmdSetLineStateMask:
		// Acknowledged only: we never send NOTIFY-LINESTATE unasked, so
		// there is nothing for the mask to filter.
		if len(v) > 0 {
			s.reply(code, v[:1])
		}
	case CmdSetModemStateMask:
		if len(v) > 0 {
			s.mu.Lock()
			s.modemMask = v[0]
			s.mu.Unlock()
			s.reply(code, v[:1])
		}
	case CmdPurgeData:
		if len(v) > 0 && v[0] >= PurgeReceive && v[0] <= PurgeBoth {
			s.h.Purge(v[0])
			s.reply(code, v[:1])
		}
	}
	// FLOWCONTROL-SUSPEND/RESUME are not acknowledged by the protocol and
	// are ignored: the peers we serve read as fast as we write.
}

func clampByte(v int) byte {
	return byte(max(0, min(v, 255)))
}

func (s *ServerConn) reply(code byte, value []byte) {
	s.writeRaw(AppendComPortOption(nil, ServerReply+code, value))
}

// writeRaw sends protocol bytes. A failure means the connection is gone,
// which Run learns from its next read, so the error is not kept.
func (s *ServerConn) writeRaw(b []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, _ = s.conn.Write(b)
}

// Write sends device output to the client, escaping IAC bytes. It is safe
// to call from any goroutine, including from Handler methods.
func (s *ServerConn) Write(p []byte) (int, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("rfc2217 server: write to closed connection: %w", net.ErrClosed)
	}
	esc := AppendEscaped(make([]byte, 0, len(p)+len(p)/64+8), p)
	s.wmu.Lock()
	n, err := s.conn.Write(esc)
	s.wmu.Unlock()
	if err != nil {
		return unescapedLen(p, n), fmt.Errorf("rfc2217 server: write to %v: %w", s.conn.RemoteAddr(), err)
	}
	return len(p), nil
}

// SendModemState notifies the client of modem line states (NOTIFY-
// MODEMSTATE), filtered by the mask the client set (initially all bits).
func (s *ServerConn) SendModemState(state byte) error {
	if s.closed.Load() {
		return fmt.Errorf("rfc2217 server: write to closed connection: %w", net.ErrClosed)
	}
	s.mu.Lock()
	state &= s.modemMask
	s.mu.Unlock()
	s.wmu.Lock()
	_, err := s.conn.Write(AppendComPortOption(nil, ServerReply+CmdNotifyModemState, []byte{state}))
	s.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("rfc2217 server: write to %v: %w", s.conn.RemoteAddr(), err)
	}
	return nil
}

// Close closes the connection; Run then returns nil. It does not wait for
// Run (it may be called from a Handler method): wait on Done for that.
// Close is idempotent.
func (s *ServerConn) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.conn.Close()
}

// Done is closed when Run has returned, after the last Handler call.
func (s *ServerConn) Done() <-chan struct{} {
	return s.done
}
