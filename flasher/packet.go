package flasher

import (
	"encoding/binary"
	"fmt"
)

// Opcodes of the serial bootloader protocol (esp-serial-protocol.md §4.1).
const (
	OpFlashBegin     byte = 0x02
	OpFlashData      byte = 0x03
	OpFlashEnd       byte = 0x04
	OpMemBegin       byte = 0x05
	OpMemEnd         byte = 0x06
	OpMemData        byte = 0x07
	OpSync           byte = 0x08
	OpWriteReg       byte = 0x09
	OpReadReg        byte = 0x0A
	OpSPISetParams   byte = 0x0B
	OpSPIAttach      byte = 0x0D
	OpReadFlashSlow  byte = 0x0E
	OpChangeBaudrate byte = 0x0F
	OpFlashDeflBegin byte = 0x10
	OpFlashDeflData  byte = 0x11
	OpFlashDeflEnd   byte = 0x12
	OpSPIFlashMD5    byte = 0x13
	OpGetSecInfo     byte = 0x14
	OpEraseFlash     byte = 0xD0
	OpEraseRegion    byte = 0xD1
	OpReadFlash      byte = 0xD2
	OpRunUserCode    byte = 0xD3
)

// OpName names an opcode for messages and traces.
func OpName(op byte) string {
	switch op {
	case OpFlashBegin:
		return "FLASH_BEGIN"
	case OpFlashData:
		return "FLASH_DATA"
	case OpFlashEnd:
		return "FLASH_END"
	case OpMemBegin:
		return "MEM_BEGIN"
	case OpMemEnd:
		return "MEM_END"
	case OpMemData:
		return "MEM_DATA"
	case OpSync:
		return "SYNC"
	case OpWriteReg:
		return "WRITE_REG"
	case OpReadReg:
		return "READ_REG"
	case OpSPISetParams:
		return "SPI_SET_PARAMS"
	case OpSPIAttach:
		return "SPI_ATTACH"
	case OpReadFlashSlow:
		return "READ_FLASH_SLOW"
	case OpChangeBaudrate:
		return "CHANGE_BAUDRATE"
	case OpFlashDeflBegin:
		return "FLASH_DEFL_BEGIN"
	case OpFlashDeflData:
		return "FLASH_DEFL_DATA"
	case OpFlashDeflEnd:
		return "FLASH_DEFL_END"
	case OpSPIFlashMD5:
		return "SPI_FLASH_MD5"
	case OpGetSecInfo:
		return "GET_SECURITY_INFO"
	case OpEraseFlash:
		return "ERASE_FLASH"
	case OpEraseRegion:
		return "ERASE_REGION"
	case OpReadFlash:
		return "READ_FLASH"
	case OpRunUserCode:
		return "RUN_USER_CODE"
	}
	return fmt.Sprintf("op 0x%02X", op)
}

// SyncPayload is SYNC's data: 07 07 12 20 then 32 × 0x55 (§6.3).
var SyncPayload = func() []byte {
	p := []byte{0x07, 0x07, 0x12, 0x20}
	for i := 0; i < 32; i++ {
		p = append(p, 0x55)
	}
	return p
}()

// ChecksumSeed starts the data checksum (§3.5).
const ChecksumSeed = 0xEF

// Checksum is the XOR checksum of a DATA payload (§3.5).
func Checksum(payload []byte) uint32 {
	c := byte(ChecksumSeed)
	for _, b := range payload {
		c ^= b
	}
	return uint32(c)
}

// EncodeRequest builds a request packet (before SLIP framing, §3.1).
func EncodeRequest(op byte, data []byte, checksum uint32) []byte {
	p := make([]byte, 8+len(data))
	p[0] = 0x00
	p[1] = op
	binary.LittleEndian.PutUint16(p[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(p[4:], checksum)
	copy(p[8:], data)
	return p
}

// Request is a decoded request packet (the virtual board's view).
type Request struct {
	Op       byte
	Checksum uint32
	Data     []byte
}

// ParseRequest decodes a host→chip packet. The declared size must match
// the data actually received: a frame that lost or gained bytes on the
// line is rejected instead of being interpreted.
func ParseRequest(p []byte) (Request, error) {
	if len(p) < 8 {
		return Request{}, fmt.Errorf("request too short (%d bytes)", len(p))
	}
	if p[0] != 0x00 {
		return Request{}, fmt.Errorf("not a request (direction 0x%02X)", p[0])
	}
	size := int(binary.LittleEndian.Uint16(p[2:]))
	if size != len(p)-8 {
		return Request{}, fmt.Errorf("request size field %d but %d data bytes", size, len(p)-8)
	}
	return Request{Op: p[1], Checksum: binary.LittleEndian.Uint32(p[4:]), Data: p[8:]}, nil
}

// Response is a decoded chip→host packet (§3.2).
type Response struct {
	Op    byte
	Value uint32
	Data  []byte // result bytes followed by the status bytes
}

// ParseResponse decodes a chip→host packet. Frames that are not responses
// (the stub's OHAI greeting, READ_FLASH data, noise) are errors for the
// caller to skip. The size field must match the bytes present: real
// loaders always set it, and a mismatch means the line dropped or invented
// bytes, so the values cannot be trusted.
func ParseResponse(p []byte) (Response, error) {
	if len(p) < 8 {
		return Response{}, fmt.Errorf("response too short (%d bytes)", len(p))
	}
	if p[0] != 0x01 {
		return Response{}, fmt.Errorf("not a response (direction 0x%02X)", p[0])
	}
	size := int(binary.LittleEndian.Uint16(p[2:]))
	if size != len(p)-8 {
		return Response{}, fmt.Errorf("response size field %d but %d data bytes", size, len(p)-8)
	}
	return Response{Op: p[1], Value: binary.LittleEndian.Uint32(p[4:]), Data: p[8:]}, nil
}

// EncodeResponse builds a response packet (used by the virtual board).
func EncodeResponse(op byte, value uint32, data []byte) []byte {
	p := make([]byte, 8+len(data))
	p[0] = 0x01
	p[1] = op
	binary.LittleEndian.PutUint16(p[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(p[4:], value)
	copy(p[8:], data)
	return p
}

// Status extracts the outcome of a command from a response's data using
// esptool's rule (§3.3): the two bytes right after the expected result are
// the status; a non-zero first byte is a failure whose key is
// first<<8|second. When the data is too short for result+status, the first
// two bytes are inspected and the command fails either way.
func Status(data []byte, resultLen int) (result []byte, err error) {
	if len(data) < resultLen+2 {
		if len(data) >= 2 && data[0] != 0 {
			return nil, &StatusError{Key: uint16(data[0])<<8 | uint16(data[1])}
		}
		return nil, &StatusError{Short: true, Got: len(data), Want: resultLen + 2}
	}
	st := data[resultLen : resultLen+2]
	if st[0] != 0 {
		return nil, &StatusError{Key: uint16(st[0])<<8 | uint16(st[1])}
	}
	return data[:resultLen], nil
}

// dataHeader is the 16-byte header of FLASH_DATA / MEM_DATA /
// FLASH_DEFL_DATA payloads (§7.4).
func dataHeader(n, seq int) []byte {
	h := make([]byte, 16)
	binary.LittleEndian.PutUint32(h[0:], uint32(n))
	binary.LittleEndian.PutUint32(h[4:], uint32(seq))
	return h
}

func words(ws ...uint32) []byte {
	p := make([]byte, 4*len(ws))
	for i, w := range ws {
		binary.LittleEndian.PutUint32(p[4*i:], w)
	}
	return p
}
