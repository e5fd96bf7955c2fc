package rfc2217

import "errors"

// Telnet command bytes (RFC 854).
const (
	SE   byte = 240 // end of subnegotiation
	NOP  byte = 241
	SB   byte = 250 // start of subnegotiation
	WILL byte = 251
	WONT byte = 252
	DO   byte = 253
	DONT byte = 254
	IAC  byte = 255 // interpret as command; doubled when it is data
)

// Telnet options used by RFC 2217 sessions.
const (
	OptBinary  byte = 0  // RFC 856: 8-bit clean data path
	OptEcho    byte = 1  // RFC 857: never wanted on a serial line
	OptSGA     byte = 3  // RFC 858: suppress go-ahead
	OptComPort byte = 44 // RFC 2217: COM-PORT-OPTION
)

// COM-PORT-OPTION subcommands as sent by the client. The server answers
// each with the same code plus ServerReply.
const (
	CmdSignature          byte = 0
	CmdSetBaudRate        byte = 1 // value: 4 bytes, big-endian; 0 asks for the current rate
	CmdSetDataSize        byte = 2
	CmdSetParity          byte = 3
	CmdSetStopSize        byte = 4
	CmdSetControl         byte = 5
	CmdNotifyLineState    byte = 6
	CmdNotifyModemState   byte = 7
	CmdFlowControlSuspend byte = 8
	CmdFlowControlResume  byte = 9
	CmdSetLineStateMask   byte = 10
	CmdSetModemStateMask  byte = 11
	CmdPurgeData          byte = 12

	// ServerReply is added to a subcommand code in messages from the server.
	ServerReply byte = 100
)

// SET-PARITY and SET-STOPSIZE values (0 asks for the current setting).
const (
	ParityNone  = 1
	ParityOdd   = 2
	ParityEven  = 3
	ParityMark  = 4
	ParitySpace = 5

	StopSize1  = 1
	StopSize2  = 2
	StopSize15 = 3
)

// SET-CONTROL values. The *Request values ask for a state instead of
// changing it; the server answers with the value in effect.
const (
	ControlFlowRequest  byte = 0
	ControlNoFlow       byte = 1
	ControlXonXoff      byte = 2
	ControlHardwareFlow byte = 3
	ControlBreakRequest byte = 4
	ControlBreakOn      byte = 5
	ControlBreakOff     byte = 6
	ControlDTRRequest   byte = 7
	ControlDTROn        byte = 8
	ControlDTROff       byte = 9
	ControlRTSRequest   byte = 10
	ControlRTSOn        byte = 11
	ControlRTSOff       byte = 12
)

// PURGE-DATA values, named from the server's point of view.
const (
	PurgeReceive  byte = 1 // data from the device not yet sent to the client
	PurgeTransmit byte = 2 // data from the client not yet sent to the device
	PurgeBoth     byte = 3
)

// MaxSubnegotiation bounds the bytes kept between IAC SB and IAC SE
// (option byte included, after unescaping). RFC 2217 messages are at most
// a few bytes plus a signature string; anything longer is garbage or an
// attack and is dropped so that a hostile peer cannot grow our memory.
const MaxSubnegotiation = 128

// ErrSubnegotiationTooLong is reported (as an EventError) when a
// subnegotiation exceeds MaxSubnegotiation; the rest of it up to IAC SE is
// discarded.
var ErrSubnegotiationTooLong = errors.New("telnet subnegotiation longer than allowed; dropped")

// ErrBadSubnegotiation is reported when a subnegotiation is empty or is
// cut short by a Telnet command other than IAC IAC or IAC SE.
var ErrBadSubnegotiation = errors.New("malformed telnet subnegotiation; dropped")

// EventKind tells what a decoded Event carries.
type EventKind uint8

const (
	// EventData: Data holds plain bytes (IAC IAC already collapsed).
	EventData EventKind = iota + 1
	// EventCommand: Cmd holds a two-byte command such as NOP or GA.
	EventCommand
	// EventNegotiation: Cmd is WILL, WONT, DO or DONT; Option the option.
	EventNegotiation
	// EventSubnegotiation: Option is the first byte after IAC SB, Data
	// the rest up to IAC SE with IAC IAC collapsed.
	EventSubnegotiation
	// EventError: Err says what malformed input was dropped.
	EventError
)

// Event is one decoded piece of a Telnet stream. Data aliases the chunk
// passed to Feed or the Decoder's own buffer: it is valid only until the
// callback returns.
type Event struct {
	Kind   EventKind
	Cmd    byte
	Option byte
	Data   []byte
	Err    error
}

type decState uint8

const (
	stData  decState = iota
	stIAC            // IAC seen in data
	stOpt            // IAC WILL/WONT/DO/DONT seen, option byte next
	stSB             // inside IAC SB ...
	stSBIAC          // IAC seen inside a subnegotiation
)

// Decoder splits a Telnet byte stream into data, commands, negotiations
// and subnegotiations. Feed it TCP reads as they come: any sequence may be
// split across chunks. The zero value is ready to use; memory use is
// bounded by MaxSubnegotiation whatever the input.
type Decoder struct {
	state    decState
	cmd      byte
	sb       []byte
	overflow bool
}

// Feed decodes chunk and calls fn for each event, in stream order.
// Consecutive data bytes are delivered as one event where possible.
func (d *Decoder) Feed(chunk []byte, fn func(Event)) {
	start := -1 // start of a pending run of data bytes in chunk
	for i, b := range chunk {
		switch d.state {
		case stData:
			if b == IAC {
				if start >= 0 {
					fn(Event{Kind: EventData, Data: chunk[start:i]})
					start = -1
				}
				d.state = stIAC
			} else if start < 0 {
				start = i
			}
		case stIAC:
			if b == IAC {
				// The second IAC is the data byte itself: start the next
				// run on it so no copy is needed.
				d.state = stData
				start = i
			} else {
				d.command(b, fn)
			}
		case stOpt:
			d.state = stData
			fn(Event{Kind: EventNegotiation, Cmd: d.cmd, Option: b})
		case stSB:
			if b == IAC {
				d.state = stSBIAC
			} else {
				d.sbAppend(b, fn)
			}
		case stSBIAC:
			switch b {
			case IAC:
				d.state = stSB
				d.sbAppend(IAC, fn)
			case SE:
				d.state = stData
				d.endSB(fn)
			default:
				// A peer that forgot IAC SE: drop the subnegotiation and
				// honour the command, the way most Telnet stacks recover.
				if !d.overflow {
					fn(Event{Kind: EventError, Err: ErrBadSubnegotiation})
				}
				d.command(b, fn)
			}
		}
	}
	if start >= 0 {
		fn(Event{Kind: EventData, Data: chunk[start:]})
	}
}

// command handles the byte after an IAC that is not IAC itself.
func (d *Decoder) command(b byte, fn func(Event)) {
	switch b {
	case SB:
		d.state = stSB
		if d.sb == nil {
			d.sb = make([]byte, 0, MaxSubnegotiation)
		}
		d.sb = d.sb[:0]
		d.overflow = false
	case WILL, WONT, DO, DONT:
		d.state = stOpt
		d.cmd = b
	default:
		d.state = stData
		fn(Event{Kind: EventCommand, Cmd: b})
	}
}

func (d *Decoder) sbAppend(b byte, fn func(Event)) {
	if d.overflow {
		return
	}
	if len(d.sb) >= MaxSubnegotiation {
		d.overflow = true
		fn(Event{Kind: EventError, Err: ErrSubnegotiationTooLong})
		return
	}
	d.sb = append(d.sb, b)
}

func (d *Decoder) endSB(fn func(Event)) {
	switch {
	case d.overflow:
		// Already reported when it overflowed.
	case len(d.sb) == 0:
		fn(Event{Kind: EventError, Err: ErrBadSubnegotiation})
	default:
		fn(Event{Kind: EventSubnegotiation, Option: d.sb[0], Data: d.sb[1:]})
	}
	d.sb = d.sb[:0]
	d.overflow = false
}

// AppendEscaped appends data to dst with every IAC doubled, as Telnet
// requires for data and for subnegotiation parameters.
func AppendEscaped(dst, data []byte) []byte {
	for len(data) > 0 {
		i := indexIAC(data)
		if i < 0 {
			return append(dst, data...)
		}
		dst = append(dst, data[:i+1]...)
		dst = append(dst, IAC)
		data = data[i+1:]
	}
	return dst
}

func indexIAC(p []byte) int {
	for i, b := range p {
		if b == IAC {
			return i
		}
	}
	return -1
}

// AppendNegotiation appends IAC cmd option; cmd is WILL, WONT, DO or DONT.
func AppendNegotiation(dst []byte, cmd, option byte) []byte {
	return append(dst, IAC, cmd, option)
}

// AppendComPortOption appends IAC SB COM-PORT-OPTION code value IAC SE,
// escaping IAC bytes in value (a baud rate can contain 0xFF).
func AppendComPortOption(dst []byte, code byte, value []byte) []byte {
	dst = append(dst, IAC, SB, OptComPort)
	if code == IAC {
		dst = append(dst, IAC)
	}
	dst = append(dst, code)
	dst = AppendEscaped(dst, value)
	return append(dst, IAC, SE)
}
