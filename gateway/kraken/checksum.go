package kraken

import (
	"hash/crc32"

	"github.com/tickline/tickline/shared/wire"
)

// checksumDepth is how many levels per side Kraken's book checksum covers.
const checksumDepth = 10

// Checksum computes Kraken's book checksum (docs guide "spot-ws-book-v2", book checksum):
// for the 10 best asks (lowest price first), then the 10 best bids (highest first), append
// the price text with the decimal point and the leading zeros removed, then the qty text
// likewise; the checksum is the CRC32 (IEEE) of that string. bids and asks are best first,
// as adapter.Checksummer says; levels with qty 0 are skipped (they are deletions, never
// part of a book). Prices and sizes must keep the digits Kraken printed: 0.12290 gives
// "12290", a canonical 0.1229 would give "1229". It does not allocate.
func (*Adapter) Checksum(bids, asks []wire.Level) uint32 {
	crc := ^uint32(0)
	for _, side := range [2][]wire.Level{asks, bids} {
		n := 0
		for _, l := range side {
			if n == checksumDepth {
				break
			}
			if l.Size.IsZero() {
				continue
			}
			n++
			crc = crcDigits(crc, l.Price)
			crc = crcDigits(crc, l.Size)
		}
	}
	return ^crc
}

// crcDigits feeds d's text without its decimal point and leading zeros ("0.00100000" →
// "100000", "45285.2" → "452852") into a running CRC32 (IEEE, pre-inverted). The bytes
// go through the table one at a time instead of through crc32.Update, whose buffer
// argument escapes to the heap.
func crcDigits(crc uint32, d wire.Decimal) uint32 {
	var buf [64]byte
	for _, c := range digits(&buf, d) {
		crc = crc32.IEEETable[byte(crc)^c] ^ crc>>8
	}
	return crc
}

// appendDigits appends d's text as crcDigits hashes it (for tests).
func appendDigits(dst []byte, d wire.Decimal) []byte {
	var buf [64]byte
	return append(dst, digits(&buf, d)...)
}

// digits writes d's text into buf and returns it without its decimal point and leading
// zeros (the checksum's form), filtered in place.
func digits(buf *[64]byte, d wire.Decimal) []byte {
	text := d.AppendString(buf[:0])
	out := text[:0]
	lead := true
	for _, c := range text {
		if c == '.' || c == '0' && lead {
			continue
		}
		lead = false
		out = append(out, c)
	}
	return out
}
