package replay

import (
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/tickline/tickline/shared/wire"
)

// ParquetRow is one record in the Parquet output: the CSV columns with native types.
// Decimals are strings exactly as the exchange wrote them (pandas/DuckDB cast them as
// needed); times are int64 ns since the Unix epoch, plus the event time as a nanosecond
// timestamp column; book levels are "price:size;..." strings. Columns a record's kind does
// not carry are null (optional columns: the zero value is written as null).
type ParquetRow struct {
	TsExchangeNs int64  `parquet:"ts_exchange_ns"`
	TsRecvNs     int64  `parquet:"ts_recv_ns"`
	Time         int64  `parquet:"time,timestamp(nanosecond)"` // event time: exchange, else receive
	Exchange     string `parquet:"exchange,dict"`
	Kind         string `parquet:"kind,dict"`
	Instrument   string `parquet:"instrument,dict"`
	Symbol       string `parquet:"symbol,dict"`
	Seq          uint64 `parquet:"seq"`
	SeqFirst     uint64 `parquet:"seq_first,optional"`
	GatewayID    uint16 `parquet:"gateway_id"`
	GatewaySeq   uint64 `parquet:"gateway_seq"`
	Flags        uint16 `parquet:"flags"`
	Side         string `parquet:"side,dict,optional"`
	Price        string `parquet:"price,optional"`
	Size         string `parquet:"size,optional"`
	BidPx        string `parquet:"bid_px,optional"`
	BidSz        string `parquet:"bid_sz,optional"`
	AskPx        string `parquet:"ask_px,optional"`
	AskSz        string `parquet:"ask_sz,optional"`
	Bids         string `parquet:"bids,optional"`
	Asks         string `parquet:"asks,optional"`
	Status       string `parquet:"status,dict,optional"`
	Expected     uint64 `parquet:"expected,optional"`
	Got          uint64 `parquet:"got,optional"`
}

// parquetBatch is how many rows the sink buffers before handing them to the writer.
const parquetBatch = 4096

// ParquetSink writes records as Parquet (zstd pages, row groups of the writer's default
// size) readable by pandas/pyarrow and DuckDB. The file is complete only after Close.
type ParquetSink struct {
	w      *parquet.GenericWriter[ParquetRow]
	closer io.Closer
	rec    wire.Record
	rows   []ParquetRow
	buf    []byte
}

// NewParquetSink writes to w; Close finishes the file and, when w is an io.Closer, closes it.
func NewParquetSink(w io.Writer) *ParquetSink {
	s := &ParquetSink{w: parquet.NewGenericWriter[ParquetRow](w, parquet.Compression(&parquet.Zstd)),
		rows: make([]ParquetRow, 0, parquetBatch)}
	s.closer, _ = w.(io.Closer)
	return s
}

// Write implements Sink.
func (s *ParquetSink) Write(value []byte, h *wire.Header) error {
	if _, err := wire.DecodeRecord(value, &s.rec); err != nil {
		return err
	}
	r := &s.rec
	row := ParquetRow{TsExchangeNs: r.TsExchange, TsRecvNs: r.TsRecv, Time: r.TsExchange,
		Exchange: r.Exchange.String(), Kind: r.Kind.String(), Instrument: r.Instrument.String(),
		Symbol: r.Symbol.String(), Seq: r.Seq, SeqFirst: r.SeqFirst, GatewayID: r.GatewayID,
		GatewaySeq: r.GatewaySeq, Flags: uint16(r.Flags), Side: r.Side.String()}
	if row.Time == 0 {
		row.Time = r.TsRecv
	}
	switch r.Kind {
	case wire.KindTrade, wire.KindTicker:
		row.Price, row.Size = r.Price.String(), r.Size.String()
	case wire.KindBBO:
		row.BidPx, row.BidSz, row.AskPx, row.AskSz = r.BidPx.String(), r.BidSz.String(), r.AskPx.String(), r.AskSz.String()
	case wire.KindBookSnapshot, wire.KindBookDelta:
		row.Bids, row.Asks = s.levels(r.Bids), s.levels(r.Asks)
	case wire.KindStatus:
		row.Status, row.Expected, row.Got = r.Status.String(), r.Expected, r.Got
	}
	s.rows = append(s.rows, row)
	if len(s.rows) == cap(s.rows) {
		return s.flush()
	}
	return nil
}

func (s *ParquetSink) levels(ls []wire.Level) string {
	s.buf = s.buf[:0]
	for i, l := range ls {
		if i > 0 {
			s.buf = append(s.buf, ';')
		}
		s.buf = l.Price.AppendString(s.buf)
		s.buf = append(s.buf, ':')
		s.buf = l.Size.AppendString(s.buf)
	}
	return string(s.buf)
}

func (s *ParquetSink) flush() error {
	if len(s.rows) == 0 {
		return nil
	}
	_, err := s.w.Write(s.rows)
	clear(s.rows)
	s.rows = s.rows[:0]
	return err
}

// Close implements Sink: it writes the buffered rows and the file footer.
func (s *ParquetSink) Close() error {
	err := s.flush()
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	if s.closer != nil {
		if cerr := s.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
