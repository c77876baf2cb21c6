// Package wire defines tickline's binary record: the one format every process exchanges
// on the bus, stores in Kafka and replays.
//
// # Layout (version 1, little-endian, fixed offsets)
//
//	off  size  field
//	  0     1  version (= Version)
//	  1     1  kind (Kind)
//	  2     2  flags (Flags)
//	  4     4  total record length in bytes, header included
//	  8     1  exchange (Exchange)
//	  9     1  side (trades) or status code (status records); 0 otherwise
//	 10     2  gateway id
//	 12     2  bid level count (books; 0 otherwise)
//	 14     2  ask level count (books; 0 otherwise)
//	 16     8  gateway sequence number
//	 24     8  exchange timestamp, ns since the Unix epoch (0 when the exchange gives none)
//	 32     8  gateway receive time, ns since the Unix epoch
//	 40     8  exchange sequence / update id / trade id (Seq)
//	 48     8  first exchange update id of this event (SeqFirst; 0 when not applicable)
//	 56    16  instrument, canonical BASE-QUOTE, ASCII, zero-padded
//	 72    16  exchange symbol as the exchange writes it, ASCII, zero-padded
//	 88     -  body
//
// Bodies: bbo = bid px, bid size, ask px, ask size; trade and ticker = price, size;
// book snapshot / delta = bid levels then ask levels, each price then size; status =
// expected u64, got u64. A decimal is 16 bytes: mantissa low u64, mantissa high u32,
// scale u8, sign u8, two zero bytes.
//
// Every field has exactly one encoding: DecodeRecord rejects anything AppendRecord would
// not have written, so decode∘encode and encode∘decode are both the identity.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the wire format version written in byte 0 of every record.
const Version = 1

// Sizes of the fixed parts of a record.
const (
	HeaderSize = 88 // bytes before the body
	NameLen    = 16 // bytes of the instrument and symbol fields
	LevelSize  = 2 * decimalSize
	// MaxLevels is the most levels one side of a book record carries.
	MaxLevels = 1<<16 - 1
	// MaxRecordSize bounds any record: a book with MaxLevels on both sides.
	MaxRecordSize = HeaderSize + 2*MaxLevels*LevelSize
)

var le = binary.LittleEndian

// Errors returned by the codec. Decode errors wrap ErrMalformed.
var (
	// ErrMalformed: the bytes are not a valid version-1 record.
	ErrMalformed = errors.New("wire: malformed record")
	// ErrVersion: the record's version byte is not Version.
	ErrVersion = errors.New("wire: unsupported record version")
	// ErrUnknown: an enum name or value is unknown.
	ErrUnknown = errors.New("wire: unknown value")
	// ErrRange: a field does not fit its slot (name too long, too many levels, bad enum).
	ErrRange = errors.New("wire: value out of range")
)

// Name is a fixed-size ASCII name (instrument or symbol), zero-padded.
type Name [NameLen]byte

// Set stores s; it fails with ErrRange when s is longer than NameLen or holds bytes outside
// printable ASCII ('!'..'~').
func (n *Name) Set(s []byte) error {
	if len(s) > NameLen {
		return fmt.Errorf("%w: name %q longer than %d bytes", ErrRange, string(s), NameLen)
	}
	for _, c := range s {
		if c < '!' || c > '~' {
			return fmt.Errorf("%w: name %q has a non-printable byte", ErrRange, string(s))
		}
	}
	*n = Name{}
	copy(n[:], s)
	return nil
}

// SetString is Set for a string.
func (n *Name) SetString(s string) error { return n.Set([]byte(s)) }

// Len returns the name's length in bytes.
func (n *Name) Len() int {
	for i, c := range n {
		if c == 0 {
			return i
		}
	}
	return NameLen
}

// Bytes returns the name's bytes, aliasing n.
func (n *Name) Bytes() []byte { return n[:n.Len()] }

// String returns the name. It allocates.
func (n Name) String() string { return string(n[:n.Len()]) }

// valid reports whether n is printable ASCII followed only by zero padding.
func (n *Name) valid() bool {
	i := 0
	for ; i < NameLen && n[i] != 0; i++ {
		if n[i] < '!' || n[i] > '~' {
			return false
		}
	}
	for ; i < NameLen; i++ {
		if n[i] != 0 {
			return false
		}
	}
	return true
}

// Level is one price level of a book.
type Level struct {
	Price Decimal
	Size  Decimal // 0 in a delta removes the level
}

// Record is one decoded (or to-be-encoded) record. Only the fields of its Kind are encoded;
// the others must be zero for encode∘decode to be the identity (DecodeRecord zeroes them).
//
// A Record is reused by decoders: Bids and Asks keep their capacity across DecodeRecord
// calls so that steady-state decoding does not allocate. Ownership: the caller owns the
// Record; DecodeRecord never retains the input bytes.
type Record struct {
	Kind       Kind
	Flags      Flags
	Exchange   Exchange
	GatewayID  uint16
	GatewaySeq uint64
	TsExchange int64  // ns since the Unix epoch, 0 when the exchange gives none
	TsRecv     int64  // gateway receive time, ns since the Unix epoch
	Seq        uint64 // exchange sequence / update id / trade id
	SeqFirst   uint64 // first update id of the event (Binance U, Gate U), 0 when n/a
	Instrument Name   // canonical BASE-QUOTE
	Symbol     Name   // the exchange's own symbol

	// KindBBO.
	BidPx, BidSz, AskPx, AskSz Decimal
	// KindTrade (Side is the taker's) and KindTicker (Price is the last price).
	Price, Size Decimal
	Side        Side
	// KindBookSnapshot and KindBookDelta, in the order the exchange listed them.
	Bids, Asks []Level
	// KindStatus.
	Status        StatusCode
	Expected, Got uint64

	// Checksum is the exchange's book checksum carried by a book message (Kraken CRC32),
	// for the gateway's book sync to verify. It is gateway-internal: not encoded, and zero
	// after DecodeRecord.
	Checksum    uint32
	HasChecksum bool
}

// Reset zeroes r, keeping the capacity of Bids and Asks.
func (r *Record) Reset() {
	bids, asks := r.Bids[:0], r.Asks[:0]
	*r = Record{Bids: bids, Asks: asks}
}

// EncodedSize returns the encoded size of r in bytes.
func (r *Record) EncodedSize() int { return recordSize(r.Kind, len(r.Bids), len(r.Asks)) }

// recordSize is the encoded size of a record of kind k with nb bid and na ask levels.
func recordSize(k Kind, nb, na int) int {
	switch k {
	case KindBBO:
		return HeaderSize + 4*decimalSize
	case KindTrade, KindTicker:
		return HeaderSize + 2*decimalSize
	case KindBookSnapshot, KindBookDelta:
		return HeaderSize + (nb+na)*LevelSize
	case KindStatus:
		return HeaderSize + 16
	}
	return HeaderSize
}

// AppendRecord appends r's encoding to dst and returns the extended slice. It fails with
// ErrRange (dst unchanged) when a field does not fit its slot. It does not allocate when dst
// has room.
func AppendRecord(dst []byte, r *Record) ([]byte, error) {
	if err := r.check(); err != nil {
		return dst, err
	}
	size := r.EncodedSize()
	off := len(dst)
	dst = grow(dst, size)
	b := dst[off : off+size]
	b[0] = Version
	b[1] = byte(r.Kind)
	le.PutUint16(b[offFlags:], uint16(r.Flags))
	le.PutUint32(b[4:], uint32(size))
	b[8] = byte(r.Exchange)
	b[9] = 0
	switch r.Kind {
	case KindTrade:
		b[9] = byte(r.Side)
	case KindStatus:
		b[9] = byte(r.Status)
	}
	le.PutUint16(b[10:], r.GatewayID)
	le.PutUint16(b[12:], uint16(len(r.Bids)))
	le.PutUint16(b[14:], uint16(len(r.Asks)))
	le.PutUint64(b[16:], r.GatewaySeq)
	le.PutUint64(b[24:], uint64(r.TsExchange))
	le.PutUint64(b[32:], uint64(r.TsRecv))
	le.PutUint64(b[40:], r.Seq)
	le.PutUint64(b[48:], r.SeqFirst)
	copy(b[56:72], r.Instrument[:])
	copy(b[72:88], r.Symbol[:])
	body := b[HeaderSize:]
	switch r.Kind {
	case KindBBO:
		putDecimal(body[0:], r.BidPx)
		putDecimal(body[16:], r.BidSz)
		putDecimal(body[32:], r.AskPx)
		putDecimal(body[48:], r.AskSz)
	case KindTrade, KindTicker:
		putDecimal(body[0:], r.Price)
		putDecimal(body[16:], r.Size)
	case KindBookSnapshot, KindBookDelta:
		o := 0
		for _, side := range [2][]Level{r.Bids, r.Asks} {
			for _, l := range side {
				putDecimal(body[o:], l.Price)
				putDecimal(body[o+16:], l.Size)
				o += LevelSize
			}
		}
	case KindStatus:
		le.PutUint64(body[0:], r.Expected)
		le.PutUint64(body[8:], r.Got)
	}
	return dst, nil
}

// check validates the fields AppendRecord encodes.
func (r *Record) check() error {
	switch {
	case !r.Kind.Valid():
		return fmt.Errorf("%w: kind %d", ErrRange, r.Kind)
	case !r.Exchange.Valid():
		return fmt.Errorf("%w: exchange %d", ErrRange, r.Exchange)
	case r.Flags&^flagsKnown != 0:
		return fmt.Errorf("%w: flags %#x", ErrRange, uint16(r.Flags))
	case len(r.Bids) > MaxLevels || len(r.Asks) > MaxLevels:
		return fmt.Errorf("%w: %d bids, %d asks (max %d a side)", ErrRange, len(r.Bids), len(r.Asks), MaxLevels)
	case !r.Instrument.valid() || !r.Symbol.valid():
		return fmt.Errorf("%w: instrument or symbol not printable ASCII", ErrRange)
	case r.Kind == KindStatus && !r.Status.Valid():
		return fmt.Errorf("%w: status code %d", ErrRange, r.Status)
	case r.Kind == KindTrade && r.Side > SideSell:
		return fmt.Errorf("%w: side %d", ErrRange, r.Side)
	case r.Kind != KindBookSnapshot && r.Kind != KindBookDelta && len(r.Bids)+len(r.Asks) != 0:
		return fmt.Errorf("%w: levels on a %s record", ErrRange, r.Kind)
	}
	return nil
}

// resize returns l with length n, reusing its array when it is large enough.
func resize(l []Level, n int) []Level {
	if cap(l) < n {
		return make([]Level, n)
	}
	return l[:n]
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// Header is the fixed part of a record, read without decoding the body: what the arbiter,
// the archiver's partitioner and the bus topic need.
type Header struct {
	Kind       Kind
	Flags      Flags
	Length     uint32
	Exchange   Exchange
	Aux        uint8 // side or status code
	GatewayID  uint16
	GatewaySeq uint64
	TsExchange int64
	TsRecv     int64
	Seq        uint64
	SeqFirst   uint64
	Instrument Name
	Symbol     Name
}

// Byte offsets of the header fields that accessors read without a full decode (see the
// layout in the package comment); nothing outside this package knows an offset.
const (
	offKind       = 1
	offFlags      = 2
	offExchange   = 8
	offGatewaySeq = 16
	offInstrument = 56
)

// KindOf returns the kind byte of encoded record b (0, an invalid Kind, when b is shorter
// than a header). It does not validate the record: use ReadHeader for that.
func KindOf(b []byte) Kind {
	if len(b) < HeaderSize {
		return 0
	}
	return Kind(b[offKind])
}

// SetFlags overwrites the flags of encoded record b in place (a replay marks the records
// it emits with FlagReplay). b must hold a header; f must hold known flags only, or the
// record no longer decodes.
func SetFlags(b []byte, f Flags) {
	le.PutUint16(b[offFlags:offFlags+2], uint16(f))
}

// SetGatewaySeq overwrites the gateway sequence of encoded record b in place (a replay
// restamps the records it publishes with its own sequence). b must hold a header.
func SetGatewaySeq(b []byte, seq uint64) {
	le.PutUint64(b[offGatewaySeq:offGatewaySeq+8], seq)
}

// ExchangeOf returns the exchange byte of encoded record b (0, an invalid Exchange, when b
// is shorter than a header). It does not validate the record: use ReadHeader for that.
func ExchangeOf(b []byte) Exchange {
	if len(b) < HeaderSize {
		return 0
	}
	return Exchange(b[offExchange])
}

// InstrumentOf returns the instrument of encoded record b without its zero padding,
// aliasing b (capacity capped at its length), or nil when b is shorter than a header or
// the instrument is empty. It does not validate the record.
func InstrumentOf(b []byte) []byte {
	if len(b) < HeaderSize {
		return nil
	}
	f := b[offInstrument : offInstrument+NameLen]
	n := 0
	for n < NameLen && f[n] != 0 {
		n++
	}
	if n == 0 {
		return nil
	}
	return f[:n:n]
}

// ReadHeader reads and checks the header of the record at the start of b (the body is not
// validated: use DecodeRecord for that).
func ReadHeader(b []byte, h *Header) error {
	if len(b) < HeaderSize {
		return fmt.Errorf("%w: %d bytes, header needs %d", ErrMalformed, len(b), HeaderSize)
	}
	if b[0] != Version {
		return fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	h.Kind = Kind(b[1])
	h.Flags = Flags(le.Uint16(b[offFlags:]))
	h.Length = le.Uint32(b[4:])
	h.Exchange = Exchange(b[8])
	h.Aux = b[9]
	h.GatewayID = le.Uint16(b[10:])
	h.GatewaySeq = le.Uint64(b[16:])
	h.TsExchange = int64(le.Uint64(b[24:]))
	h.TsRecv = int64(le.Uint64(b[32:]))
	h.Seq = le.Uint64(b[40:])
	h.SeqFirst = le.Uint64(b[48:])
	copy(h.Instrument[:], b[56:72])
	copy(h.Symbol[:], b[72:88])
	switch {
	case !h.Kind.Valid():
		return fmt.Errorf("%w: kind %d", ErrMalformed, h.Kind)
	case !h.Exchange.Valid():
		return fmt.Errorf("%w: exchange %d", ErrMalformed, h.Exchange)
	case h.Flags&^flagsKnown != 0:
		return fmt.Errorf("%w: flags %#x", ErrMalformed, uint16(h.Flags))
	case h.Length < HeaderSize || h.Length > MaxRecordSize:
		return fmt.Errorf("%w: length %d", ErrMalformed, h.Length)
	case int(h.Length) > len(b):
		return fmt.Errorf("%w: length %d, have %d bytes", ErrMalformed, h.Length, len(b))
	case !h.Instrument.valid() || !h.Symbol.valid():
		return fmt.Errorf("%w: instrument or symbol", ErrMalformed)
	}
	return nil
}

// DecodeRecord decodes the record at the start of b into r and returns its length in bytes
// (b may hold more records after it). r's level slices are reused; nothing in r aliases b.
// On error r is left in an unspecified state.
func DecodeRecord(b []byte, r *Record) (int, error) {
	var h Header
	if err := ReadHeader(b, &h); err != nil {
		return 0, err
	}
	r.Reset()
	r.Kind, r.Flags, r.Exchange = h.Kind, h.Flags, h.Exchange
	r.GatewayID, r.GatewaySeq = h.GatewayID, h.GatewaySeq
	r.TsExchange, r.TsRecv = h.TsExchange, h.TsRecv
	r.Seq, r.SeqFirst = h.Seq, h.SeqFirst
	r.Instrument, r.Symbol = h.Instrument, h.Symbol
	nb, na := int(le.Uint16(b[12:])), int(le.Uint16(b[14:]))
	isBook := r.Kind == KindBookSnapshot || r.Kind == KindBookDelta
	if !isBook && nb+na != 0 {
		return 0, fmt.Errorf("%w: level counts on a %s record", ErrMalformed, r.Kind)
	}
	switch r.Kind {
	case KindTrade:
		r.Side = Side(h.Aux)
		if r.Side > SideSell {
			return 0, fmt.Errorf("%w: side %d", ErrMalformed, h.Aux)
		}
	case KindStatus:
		r.Status = StatusCode(h.Aux)
		if !r.Status.Valid() {
			return 0, fmt.Errorf("%w: status code %d", ErrMalformed, h.Aux)
		}
	default:
		if h.Aux != 0 {
			return 0, fmt.Errorf("%w: byte 9 = %d on a %s record", ErrMalformed, h.Aux, r.Kind)
		}
	}
	want := recordSize(r.Kind, nb, na)
	if int(h.Length) != want {
		return 0, fmt.Errorf("%w: length %d, %s record needs %d", ErrMalformed, h.Length, r.Kind, want)
	}
	if isBook { // sizes are bounded by len(b) now
		r.Bids, r.Asks = resize(r.Bids, nb), resize(r.Asks, na)
	}
	body := b[HeaderSize:h.Length]
	var err error
	get := func(o int, d *Decimal) {
		if err == nil {
			*d, err = getDecimal(body[o:])
		}
	}
	switch r.Kind {
	case KindBBO:
		get(0, &r.BidPx)
		get(16, &r.BidSz)
		get(32, &r.AskPx)
		get(48, &r.AskSz)
	case KindTrade, KindTicker:
		get(0, &r.Price)
		get(16, &r.Size)
	case KindBookSnapshot, KindBookDelta:
		o := 0
		for _, side := range [2][]Level{r.Bids, r.Asks} {
			for i := range side {
				get(o, &side[i].Price)
				get(o+16, &side[i].Size)
				o += LevelSize
			}
		}
	case KindStatus:
		r.Expected = le.Uint64(body[0:])
		r.Got = le.Uint64(body[8:])
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return int(h.Length), nil
}

// Stamp writes the gateway's id, sequence number and receive time into an encoded record in
// place (the gateway encodes first and stamps just before publishing).
func Stamp(b []byte, gatewayID uint16, gatewaySeq uint64, tsRecv int64) error {
	if len(b) < HeaderSize {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	le.PutUint16(b[10:], gatewayID)
	le.PutUint64(b[16:], gatewaySeq)
	le.PutUint64(b[32:], uint64(tsRecv))
	return nil
}

// AppendTopic appends the bus topic of a record, general to specific:
// "<kind>.<exchange>.<instrument>" ("bbo.binance.BTC-USDT"), or "<kind>.<exchange>" when
// the record has no instrument (session-wide status).
func AppendTopic(dst []byte, kind Kind, ex Exchange, instrument *Name) []byte {
	dst = append(dst, kind.String()...)
	dst = append(dst, '.')
	dst = append(dst, ex.String()...)
	if n := instrument.Len(); n > 0 {
		dst = append(dst, '.')
		dst = append(dst, instrument[:n]...)
	}
	return dst
}
