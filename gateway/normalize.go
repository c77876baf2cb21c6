package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
)

// NormalizeInput is one named source of raw frames for Normalize.
type NormalizeInput struct {
	Name string // file name or "-" for stdin, used in error lines
	R    io.Reader
}

// NormalizeStats counts what Normalize did.
type NormalizeStats struct {
	Lines, Records, Errors, Skipped int
}

// ErrNormalize is returned by Normalize when at least one line was malformed.
var ErrNormalize = errors.New("normalize: malformed input")

// ErrLineTooLong: an input line longer than adapter.MaxFrameBytes (the gateway's own
// frame limit). The line is reported and skipped; the input goes on after it.
var ErrLineTooLong = fmt.Errorf("line longer than %d bytes", adapter.MaxFrameBytes)

// Normalize reads raw exchange frames, one document per line, from each input in turn and
// writes every normalized record to out as one JSON object per line (adapter.AppendJSON).
// Each frame is normalized on its own, without book state. A malformed line, or one longer
// than adapter.MaxFrameBytes, produces an error line on errOut naming the input and line
// number; the other lines are still processed, and the returned error wraps ErrNormalize.
// Well-formed messages tickline does not normalize (acks, heartbeats, unsupported types)
// produce no output; unsupported ones are noted on errOut as skipped without failing the
// run. When ctx ends, Normalize stops after the current line, flushes what it wrote and
// returns ctx's error (a read blocked on an input returns once the caller closes it).
func Normalize(ctx context.Context, a adapter.Adapter, inputs []NormalizeInput, out, errOut io.Writer) (NormalizeStats, error) {
	var st NormalizeStats
	p := a.NewParser()
	var batch adapter.Batch
	w := bufio.NewWriterSize(out, 64<<10)
	var line, buf []byte
	done := ctx.Done()
	var stopped error
inputs:
	for _, in := range inputs {
		r := bufio.NewReaderSize(in.R, 64<<10)
		n := 0
		for {
			select {
			case <-done:
				stopped = ctx.Err()
				break inputs
			default:
			}
			var tooLong bool
			var rerr error
			buf, tooLong, rerr = readLine(r, buf[:0], adapter.MaxFrameBytes)
			if rerr != nil && rerr != io.EOF {
				if ctx.Err() != nil { // the caller closed the input to stop a blocked read
					stopped = ctx.Err()
					break inputs
				}
				st.Errors++
				fmt.Fprintf(errOut, "%s:%d: error: reading: %v\n", in.Name, n+1, rerr)
				break // the rest of this input cannot be read; go on with the next
			}
			if len(buf) == 0 && !tooLong && rerr == io.EOF {
				break
			}
			n++
			frame := bytes.TrimSpace(buf)
			switch {
			case tooLong:
				st.Lines++
				st.Errors++
				fmt.Fprintf(errOut, "%s:%d: error: %v\n", in.Name, n, ErrLineTooLong)
			case len(frame) == 0:
			default:
				st.Lines++
				if err := normalizeLine(p, frame, &batch, &st, errOut, in.Name, n); err != nil {
					break
				}
				for i := 0; i < batch.Len(); i++ {
					line = adapter.AppendJSON(line[:0], batch.At(i))
					line = append(line, '\n')
					if _, err := w.Write(line); err != nil {
						return st, fmt.Errorf("normalize: writing output: %w", err)
					}
					st.Records++
				}
			}
			if rerr == io.EOF {
				break
			}
		}
	}
	if err := w.Flush(); err != nil {
		return st, fmt.Errorf("normalize: writing output: %w", err)
	}
	if stopped != nil {
		return st, fmt.Errorf("normalize: interrupted after %d lines: %w", st.Lines, stopped)
	}
	if st.Errors > 0 {
		return st, fmt.Errorf("%w: %d of %d lines", ErrNormalize, st.Errors, st.Lines)
	}
	return st, nil
}

// normalizeLine parses one frame into batch; a skipped or malformed frame is reported on
// errOut, counted, and returned as an error (nothing to write).
func normalizeLine(p adapter.Parser, frame []byte, batch *adapter.Batch, st *NormalizeStats, errOut io.Writer, name string, n int) error {
	batch.Reset()
	_, err := p.Parse(frame, time.Now().UnixNano(), batch)
	switch {
	case errors.Is(err, adapter.ErrUnsupported):
		st.Skipped++
		fmt.Fprintf(errOut, "%s:%d: skipped: %v\n", name, n, err)
	case err != nil:
		st.Errors++
		fmt.Fprintf(errOut, "%s:%d: error: %v\n", name, n, err)
	}
	return err
}

// readLine reads one line (without bounding the input: a line is read in pieces) into buf,
// keeping at most limit+1 bytes (the frame and its newline); a longer line is consumed to
// its end and reported as tooLong with nothing kept. err is io.EOF at the end of the input
// (possibly with a last line that had no newline).
func readLine(r *bufio.Reader, buf []byte, limit int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > limit+1 {
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return buf, tooLong, err
	}
}
