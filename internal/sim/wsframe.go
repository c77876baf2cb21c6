package sim

import "encoding/binary"

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opText   byte = 1
	opBinary byte = 2
	opClose  byte = 8
	opPing   byte = 9
	opPong   byte = 10
)

// appendFrameHeader appends an unmasked, final server frame header for a payload of n
// bytes. The simulator writes its frames itself (gorilla only does the handshake and
// reads) so that one burst of frames goes out in one write system call.
func appendFrameHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return dst
}
