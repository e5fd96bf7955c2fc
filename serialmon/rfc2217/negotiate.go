package rfc2217

// Per-option Telnet state, a reduced form of the RFC 1143 "Q method": we
// remember what we asked for so that the peer's agreement is not answered
// again, which is what keeps two implementations from negotiating in a loop.
const (
	optNo uint8 = iota
	optYes
	optWantYes
)

// negotiator tracks both directions of every option: us[opt] is whether we
// perform it (WILL/WONT from us, DO/DONT from the peer), him[opt] whether
// the peer does.
type negotiator struct {
	us, him [256]uint8
	// refused* remember that a request was already declined, so a peer that
	// repeats an unwanted request gets exactly one answer.
	refusedUs, refusedHim [256]bool
	// peerRefusedUs is set when the peer declined something we offered.
	peerRefusedUs [256]bool
	acceptUs      func(opt byte) bool // may we enable opt on our side?
	acceptHim     func(opt byte) bool // may the peer enable opt on its side?
}

// offer asks to enable opt on our side (IAC WILL opt).
func (n *negotiator) offer(dst []byte, opt byte) []byte {
	if n.us[opt] != optNo {
		return dst
	}
	n.us[opt] = optWantYes
	return AppendNegotiation(dst, WILL, opt)
}

// request asks the peer to enable opt on its side (IAC DO opt).
func (n *negotiator) request(dst []byte, opt byte) []byte {
	if n.him[opt] != optNo {
		return dst
	}
	n.him[opt] = optWantYes
	return AppendNegotiation(dst, DO, opt)
}

// receive updates the state for an incoming negotiation and appends the
// answer, if one is due, to dst.
func (n *negotiator) receive(dst []byte, cmd, opt byte) []byte {
	switch cmd {
	case WILL:
		switch n.him[opt] {
		case optWantYes:
			n.him[opt] = optYes
		case optNo:
			if n.acceptHim(opt) {
				n.him[opt] = optYes
				dst = AppendNegotiation(dst, DO, opt)
			} else if !n.refusedHim[opt] {
				n.refusedHim[opt] = true
				dst = AppendNegotiation(dst, DONT, opt)
			}
		}
	case WONT:
		switch n.him[opt] {
		case optYes:
			n.him[opt] = optNo
			dst = AppendNegotiation(dst, DONT, opt)
		case optWantYes:
			n.him[opt] = optNo
		}
	case DO:
		switch n.us[opt] {
		case optWantYes:
			n.us[opt] = optYes
		case optNo:
			if n.acceptUs(opt) {
				n.us[opt] = optYes
				dst = AppendNegotiation(dst, WILL, opt)
			} else if !n.refusedUs[opt] {
				n.refusedUs[opt] = true
				dst = AppendNegotiation(dst, WONT, opt)
			}
		}
	case DONT:
		switch n.us[opt] {
		case optYes:
			n.us[opt] = optNo
			dst = AppendNegotiation(dst, WONT, opt)
		case optWantYes:
			n.us[opt] = optNo
			n.peerRefusedUs[opt] = true
		}
	}
	return dst
}
