package virtualboard

import (
	"compress/zlib"
	"context"
	"crypto/md5"
	"encoding/binary"
	"io"
	"sync"
	"time"

	"github.com/iotbench/iotbench/flasher"
	"github.com/iotbench/iotbench/flasher/slip"
)

// Stub error codes (esp-serial-protocol.md §5.2).
const (
	stubBadDataLen  = 0xC0
	stubBadChecksum = 0xC1
	stubBadBlock    = 0xC2
	stubNotInFlash  = 0xC6
	stubInflate     = 0xC7
	stubNotEnough   = 0xC8
	stubTooMuch     = 0xC9
	stubNotImpl     = 0xFF
	stubMaxBlock    = 0x4000
	stubOutBuf      = 32768 // tinfl's dictionary, the stub's output buffer
)

// flasherStub behaves like esptool's legacy flasher stub once a ROM (the
// ESP8266's or an ESP32-family one) has jumped into uploaded code. The code itself is not executed; the board
// takes on the behaviour that code is known to have (from the stub's
// sources, §5.2, §7, §10): two status bytes, its own error codes, 16 KiB
// packets, lazy erase, ACK-before-write with errors reported on the next
// packet, inflate, MD5, READ_FLASH, baud change.
type flasherStub struct {
	b    *Board
	fr   *frames
	regs *regFile

	inFlash        bool
	nextWrite      uint32
	remaining      uint32
	nextErase      int // sector
	remainingErase int // sectors
	lastErr        byte
	inflate        *inflater
	outBuf         []byte
	remainingComp  uint32
	flashSizeParam uint32
}

func runStub(ctx context.Context, b *Board, regs *regFile) {
	s := &flasherStub{b: b, fr: newFrames(b, false), regs: regs}
	// The stub zeroes its BSS and greets with one unsolicited frame (§10.2).
	b.sendFrame([]byte("OHAI"))
	defer s.closeInflate()
	for {
		f, err := s.fr.next(ctx)
		if err != nil {
			return
		}
		if len(f) < 8 || f[0] != 0 {
			continue
		}
		if len(f)-8 > stubMaxBlock+16 {
			s.status(f[1], 0, stubBadDataLen, 0xEE)
			continue
		}
		q, err := flasher.ParseRequest(f)
		if err != nil {
			s.status(f[1], 0, stubBadDataLen, 0)
			continue
		}
		if stop := s.handle(ctx, q); stop {
			return
		}
	}
}

func (s *flasherStub) status(op byte, value uint32, errCode, st byte) {
	s.b.reply(op, value, nil, []byte{errCode, st})
}

func (s *flasherStub) ok(op byte) { s.status(op, 0, 0, 0) }

// stubDataLen is the exact request length each fixed-size command takes
// (the stub's verify_data_len checks).
var stubDataLen = map[byte]int{
	flasher.OpSync: 36, flasher.OpReadReg: 4, flasher.OpFlashEnd: 4, flasher.OpFlashDeflEnd: 4,
	flasher.OpSPISetParams: 24, flasher.OpSPIAttach: 4, flasher.OpChangeBaudrate: 8,
	flasher.OpSPIFlashMD5: 16, flasher.OpEraseFlash: 0, flasher.OpReadFlash: 16,
}

func (s *flasherStub) handle(ctx context.Context, q flasher.Request) bool {
	d := q.Data
	if want, ok := stubDataLen[q.Op]; ok && len(d) != want {
		s.status(q.Op, 0, stubBadDataLen, 0)
		return false
	}
	switch q.Op {
	case flasher.OpSync:
		// Eight replies like the ROM, but with value 0 so a host can tell
		// the stub is already running (§6.3).
		for i := 0; i < 8; i++ {
			s.ok(q.Op)
		}
	case flasher.OpReadReg:
		s.status(q.Op, s.regs.read(le(d, 0)), 0, 0)
	case flasher.OpWriteReg:
		// The stub accepts several 16-byte groups (§4.1).
		if len(d) == 0 || len(d)%16 != 0 {
			s.status(q.Op, 0, stubBadDataLen, 0)
			return false
		}
		for i := 0; i < len(d)/16; i++ {
			g := d[16*i:]
			s.regs.write(le(g, 0), le(g, 1), le(g, 2))
			if us := le(g, 3); us > 0 {
				s.b.clk.Sleep(ctx, time.Duration(us)*time.Microsecond)
			}
		}
		s.ok(q.Op)
	case flasher.OpFlashBegin, flasher.OpFlashDeflBegin:
		// 16 or 20 bytes: stubs accept the encrypted-flag word (§4.2).
		if len(d) != 16 && len(d) != 20 {
			s.status(q.Op, 0, stubBadDataLen, 0)
			return false
		}
		if le(d, 2) > stubMaxBlock {
			s.status(q.Op, 0, stubBadBlock, 0)
			return false
		}
		total, offset := le(d, 0), le(d, 3)
		s.closeInflate()
		s.inFlash, s.nextWrite, s.remaining, s.lastErr = true, offset, total, 0
		s.nextErase = int(offset / sectorSize)
		s.remainingErase = int((offset%sectorSize + total + sectorSize - 1) / sectorSize)
		s.outBuf = nil
		if q.Op == flasher.OpFlashDeflBegin {
			s.remainingComp = le(d, 1) * le(d, 2)
			s.inflate = newInflater()
		}
		s.ok(q.Op)
	case flasher.OpFlashData, flasher.OpFlashDeflData:
		if !s.inFlash || (q.Op == flasher.OpFlashDeflData) != (s.inflate != nil) {
			s.status(q.Op, 0, stubNotInFlash, 0)
			return false
		}
		e := s.lastErr
		if len(d) < 16 || int(le(d, 0)) != len(d)-16 {
			e = stubBadDataLen
		} else if flasher.Checksum(d[16:]) != q.Checksum&0xFF {
			e = stubBadChecksum
		}
		// ACK first, then write while the next packet arrives (§5.2).
		s.status(q.Op, 0, e, 0)
		if e != 0 {
			return false
		}
		var err error
		if q.Op == flasher.OpFlashData {
			err = s.writeData(ctx, d[16:])
		} else {
			err = s.inflateData(ctx, d[16:])
		}
		return err != nil
	case flasher.OpFlashEnd, flasher.OpFlashDeflEnd:
		var e byte
		switch {
		case !s.inFlash:
			e = stubNotInFlash
		case s.remaining > 0:
			e = stubNotEnough
		default:
			e = s.lastErr
			s.inFlash = false
			s.closeInflate()
		}
		s.status(q.Op, 0, e, 0)
		if e == 0 && le(d, 0) == 0 {
			// Reboot: the stub software-resets the chip, which comes back
			// in the ROM loader with the latched strap (§7.5).
			s.b.waitTx(ctx)
			s.b.logf("stub: FLASH_END(reboot)")
			s.b.softReset()
			return true
		}
	case flasher.OpSPISetParams:
		s.flashSizeParam = le(d, 1)
		s.ok(q.Op)
	case flasher.OpSPIAttach:
		s.ok(q.Op)
	case flasher.OpChangeBaudrate:
		s.ok(q.Op)
		s.b.waitTx(ctx)
		// The ESP8266 stub scales the divider the ROM auto-detected by
		// old/new baud, because it cannot measure its crystal (§6.5); the
		// resulting rate is APB / divider.
		nb, ob := le(d, 0), le(d, 1)
		if nb > 0 && ob > 0 {
			div := uint64(s.b.uartDivider()) * uint64(ob) / uint64(nb)
			if div == 0 {
				div = 1
			}
			apb := uint64(s.b.cfg.CrystalMHz) * 1e6 * uint64(max(s.b.chip.XtalClkDivider, 1))
			s.b.setBaud(int(apb / div))
			s.b.logf("stub: baud %d requested, UART divider %d gives %d", nb, div, apb/div)
		}
	case flasher.OpSPIFlashMD5:
		addr, n := le(d, 0), le(d, 1)
		sum := md5.Sum(s.b.flash.Read(addr, int(n)))
		if err := s.b.clk.SleepUntil(ctx, s.b.flash.ChargeRead(int(n))); err != nil {
			return true
		}
		s.b.reply(q.Op, 0, sum[:], []byte{0, 0})
	case flasher.OpEraseFlash:
		if err := s.b.clk.SleepUntil(ctx, s.b.flash.EraseChip()); err != nil {
			return true
		}
		s.ok(q.Op)
	case flasher.OpEraseRegion:
		if len(d) != 8 || le(d, 0)%sectorSize != 0 || le(d, 1)%sectorSize != 0 {
			s.status(q.Op, 0, stubBadDataLen, 0)
			return false
		}
		addr, n := le(d, 0), le(d, 1)
		var done time.Duration
		for n > 0 {
			if addr%block64Size == 0 && n >= block64Size {
				done = s.b.flash.EraseBlock64(addr)
				addr, n = addr+block64Size, n-block64Size
			} else {
				done = s.b.flash.EraseSector(addr)
				addr, n = addr+sectorSize, n-sectorSize
			}
		}
		if err := s.b.clk.SleepUntil(ctx, done); err != nil {
			return true
		}
		s.ok(q.Op)
	case flasher.OpReadFlash:
		s.ok(q.Op)
		return s.readFlash(ctx, le(d, 0), le(d, 1), le(d, 2), le(d, 3)) != nil
	case flasher.OpRunUserCode:
		// No reply: the stub returns into the normal boot (§10.3).
		s.b.logf("stub: RUN_USER_CODE")
		go s.b.startCPU(0, 3, false)
		return true
	case flasher.OpGetSecInfo:
		// The S2-and-later stubs forward the ROM's answer; the ESP8266
		// and ESP32 stubs do not know the command (§8.2).
		if res := s.b.securityInfo(); res != nil && len(d) == 0 {
			s.b.reply(q.Op, 0, res, []byte{0, 0})
		} else {
			s.status(q.Op, 0, stubNotImpl, 0)
		}
	case flasher.OpMemBegin, flasher.OpMemData, flasher.OpMemEnd:
		// Loading more RAM code from the stub is outside what iotbench
		// needs; report it as the stub reports unknown commands.
		s.status(q.Op, 0, stubNotImpl, 0)
	default:
		s.status(q.Op, 0, stubNotImpl, 0)
	}
	return false
}

// eraseAhead erases sectors (or a 64 KiB block at a block boundary when
// enough remain) until the write position is covered, like the stub's
// start_next_erase loop.
func (s *flasherStub) eraseAhead(lastSector int) time.Duration {
	var done time.Duration
	for s.remainingErase > 0 && s.nextErase <= lastSector {
		if s.remainingErase >= 16 && s.nextErase%16 == 0 {
			done = s.b.flash.EraseBlock64(uint32(s.nextErase * sectorSize))
			s.nextErase += 16
			s.remainingErase -= 16
		} else {
			done = s.b.flash.EraseSector(uint32(s.nextErase * sectorSize))
			s.nextErase++
			s.remainingErase--
		}
	}
	return done
}

// writeData writes at the running write pointer, trimming padding past
// the announced size; the sequence number is not used (the stub writes
// sequentially).
func (s *flasherStub) writeData(ctx context.Context, p []byte) error {
	if uint32(len(p)) > s.remaining {
		p = p[:s.remaining]
	}
	if len(p) == 0 {
		return nil
	}
	s.eraseAhead(int((s.nextWrite + uint32(len(p))) / sectorSize))
	if err := s.b.flash.WaitIdle(ctx); err != nil {
		return err
	}
	done := s.b.flash.Program(s.nextWrite, p)
	s.nextWrite += uint32(len(p))
	s.remaining -= uint32(len(p))
	return s.b.clk.SleepUntil(ctx, done)
}

// inflateData mirrors the stub's handle_flash_deflated_data: output
// collects in a 32 KiB buffer (tinfl's dictionary) and is written when the
// buffer is full or the stream ends; then the three end-of-packet checks
// decide what the next reply reports.
func (s *flasherStub) inflateData(ctx context.Context, p []byte) error {
	if uint32(len(p)) > s.remainingComp {
		s.remainingComp = 0
	} else {
		s.remainingComp -= uint32(len(p))
	}
	out, done, err := s.inflate.feed(p, s.remainingComp == 0)
	s.outBuf = append(s.outBuf, out...)
	for s.remaining > 0 && (len(s.outBuf) >= stubOutBuf || (done && len(s.outBuf) > 0)) {
		n := min(len(s.outBuf), stubOutBuf)
		if werr := s.writeData(ctx, s.outBuf[:n]); werr != nil {
			return werr
		}
		s.outBuf = s.outBuf[n:]
	}
	switch {
	case err != nil:
		s.lastErr = stubInflate
	case done && s.remaining > 0:
		s.lastErr = stubNotEnough
	case !done && s.remaining == 0:
		s.lastErr = stubTooMuch
	}
	return nil
}

func (s *flasherStub) closeInflate() {
	if s.inflate != nil {
		s.inflate.close()
		s.inflate = nil
	}
}

// readFlash streams flash in packets, never more than maxInFlight
// unacknowledged, then sends the MD5 of everything (§10.3).
func (s *flasherStub) readFlash(ctx context.Context, addr, length, packet, maxInFlight uint32) error {
	if packet == 0 || maxInFlight == 0 {
		return nil
	}
	var sent, acked uint32
	h := md5.New()
	for acked < length {
		for sent < length && (sent-acked)/packet < maxInFlight {
			n := min(packet, length-sent)
			chunk := s.b.flash.Read(addr+sent, int(n))
			if err := s.b.clk.SleepUntil(ctx, s.b.flash.ChargeRead(int(n))); err != nil {
				return err
			}
			h.Write(chunk)
			s.b.transmit(slip.Encode(chunk))
			sent += n
		}
		f, err := s.fr.next(ctx)
		if err != nil {
			return err
		}
		if len(f) == 4 {
			if v := binary.LittleEndian.Uint32(f); v > acked && v <= sent {
				acked = v
			}
		}
	}
	s.b.transmit(slip.Encode(h.Sum(nil)))
	return nil
}

// inflater decompresses a zlib stream that arrives in pieces. Go's
// decompressor pulls its input; here it runs in a goroutine whose reader
// blocks for the next packet, and feed returns once that reader is
// waiting again — so every byte the input so far can produce has been
// produced, as the stub's tinfl loop does per packet.
type inflater struct {
	mu      sync.Mutex
	cond    *sync.Cond
	in      []byte
	pos     int
	last    bool // no more input will come
	waiting bool
	out     []byte
	done    bool // stream ended (EOF or error)
	err     error
	exited  chan struct{}
}

func newInflater() *inflater {
	z := &inflater{exited: make(chan struct{})}
	z.cond = sync.NewCond(&z.mu)
	go z.run()
	return z
}

func (z *inflater) run() {
	defer close(z.exited)
	zr, err := zlib.NewReader(z)
	if err == nil {
		buf := make([]byte, 8192)
		for {
			n, rerr := zr.Read(buf)
			z.mu.Lock()
			z.out = append(z.out, buf[:n]...)
			z.mu.Unlock()
			if rerr != nil {
				if rerr != io.EOF {
					err = rerr
				}
				break
			}
		}
	}
	z.mu.Lock()
	z.done, z.err = true, err
	z.cond.Broadcast()
	z.mu.Unlock()
}

func (z *inflater) ReadByte() (byte, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for z.pos >= len(z.in) {
		if z.last {
			return 0, io.ErrUnexpectedEOF
		}
		z.waiting = true
		z.cond.Broadcast()
		z.cond.Wait()
		z.waiting = false
	}
	z.pos++
	return z.in[z.pos-1], nil
}

func (z *inflater) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := z.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}

// feed adds input and returns the output it produced, whether the stream
// has ended, and a decompression error.
func (z *inflater) feed(p []byte, last bool) ([]byte, bool, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.in = append(z.in, p...)
	z.last = z.last || last
	z.cond.Broadcast()
	for !z.done && !(z.waiting && z.pos >= len(z.in)) {
		z.cond.Wait()
	}
	out := z.out
	z.out = nil
	if z.err == io.ErrUnexpectedEOF {
		// Input ran out mid-stream: not an error until the end checks.
		return out, false, nil
	}
	return out, z.done, z.err
}

func (z *inflater) close() {
	z.mu.Lock()
	z.last = true
	z.cond.Broadcast()
	z.mu.Unlock()
	<-z.exited
}
