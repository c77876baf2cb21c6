package bus

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// chunkReader returns at most n bytes per Read, to exercise frames split across reads.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// errClass reduces an error to what the caller acts on.
func errClass(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, errProtocol):
		return "protocol"
	case err == io.EOF:
		return "eof"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected-eof"
	default:
		return "other: " + err.Error()
	}
}

func fuzzSeeds(f *testing.F) {
	seeds := [][]byte{
		appendSubscription(nil, 1, "bbo.binance."),
		appendSubscription(appendSubscription(nil, 1, ""), 0, ""),
		appendCommand(nil, cmdSubscribe, []byte("trade.okx.")),
		appendCommand(nil, cmdCancel, []byte("trade.okx.")),
		appendCommand(nil, cmdPing, []byte{0, 30, 'h', 'i'}),
		appendCommand(nil, cmdPong, []byte("hi")),
		appendMessage(nil, []byte("bbo.binance.BTC-USDT"), bytes.Repeat([]byte{7}, 300)),
		appendMessage(appendSubscription(nil, 1, "x"), []byte("t"), []byte("p")),
		append(appendFrame(appendFrame(nil, flagMore, []byte("a")), flagMore, []byte("b")), appendFrame(nil, 0, []byte("c"))...),
		{0xff, 0x00},
		{flagLong, 0, 0, 0, 0, 0, 0, 1, 0},
	}
	// Real captures of libzmq 4.3 peers (shared/zmtp/testdata, TestCaptureLibzmq): the
	// traffic after the NULL handshake, which is what these parsers read.
	for _, name := range []string{"libzmq-null-sub.bin", "libzmq-null-pub.bin"} {
		b, err := os.ReadFile(filepath.Join("..", "zmtp", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 66 && 66+int(b[65]) < len(b) {
			seeds = append(seeds, b[66+int(b[65]):min(len(b), 66+int(b[65])+4096)])
		}
	}
	for _, s := range seeds {
		for _, chunk := range []uint8{0, 1, 3} {
			f.Add(s, chunk)
		}
	}
}

// FuzzFrameReader feeds arbitrary bytes to the publisher's inbound parser (what
// subscribers send) whole and split into small reads. It must not panic, must respect
// its size limit, and must parse identically however the input is split.
func FuzzFrameReader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		parse := func(r io.Reader) string {
			cr := ctlReader{fr: frameReader{r: bufio.NewReaderSize(r, 16), max: maxInboundFrame}}
			var out bytes.Buffer
			for {
				op, arg, err := cr.next()
				if err != nil {
					fmt.Fprintf(&out, "err %s", errClass(err))
					return out.String()
				}
				if len(arg) > maxInboundFrame {
					t.Fatalf("arg of %d bytes exceeds limit", len(arg))
				}
				fmt.Fprintf(&out, "%d %q\n", op, arg)
			}
		}
		whole := parse(bytes.NewReader(data))
		split := parse(&chunkReader{r: bytes.NewReader(data), n: int(chunk%17) + 1})
		if whole != split {
			t.Fatalf("split input parsed differently:\nwhole: %s\nsplit: %s", whole, split)
		}
	})
}

// discardConn is a net.Conn whose writes (PONGs) vanish.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) Close() error                     { return nil }

// FuzzMessageReader feeds arbitrary bytes to the subscriber's receive path (what
// publishers send), whole and split.
func FuzzMessageReader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		parse := func(r io.Reader) string {
			s := NewSubscriber(SubOptions{MaxMessageBytes: 1024, BatchMessages: 4, BatchBytes: 2048}, nil)
			rd := reader{
				s: s, sc: &subConn{}, conn: discardConn{}, ctx: context.Background(),
				fr: frameReader{r: bufio.NewReaderSize(r, 16), max: s.opts.MaxMessageBytes},
			}
			rd.b = rd.newBatch()
			var out bytes.Buffer
			for {
				err := rd.readMessage()
				for _, m := range rd.b.msgs {
					if len(m.Topic)+len(m.Payload) > s.opts.MaxMessageBytes {
						t.Fatalf("message of %d bytes exceeds limit", len(m.Topic)+len(m.Payload))
					}
					fmt.Fprintf(&out, "%q %q\n", m.Topic, m.Payload)
				}
				rd.b.msgs = rd.b.msgs[:0]
				rd.b.arena = rd.b.arena[:0]
				if err != nil {
					fmt.Fprintf(&out, "err %s", errClass(err))
					return out.String()
				}
			}
		}
		whole := parse(bytes.NewReader(data))
		split := parse(&chunkReader{r: bytes.NewReader(data), n: int(chunk%17) + 1})
		if whole != split {
			t.Fatalf("split input parsed differently:\nwhole: %s\nsplit: %s", whole, split)
		}
	})
}
