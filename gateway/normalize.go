package gateway

import (
	"bufio"
	"bytes"
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

// Normalize reads raw exchange frames, one document per line, from each input in turn and
// writes every normalized record to out as one JSON object per line (adapter.AppendJSON).
// Each frame is normalized on its own, without book state. A malformed line produces an
// error line on errOut naming the input and line number; the other lines are still
// processed, and the returned error wraps ErrNormalize. Well-formed messages tickline does
// not normalize (acks, heartbeats, unsupported types) produce no output; unsupported ones
// are noted on errOut as skipped without failing the run.
func Normalize(a adapter.Adapter, inputs []NormalizeInput, out, errOut io.Writer) (NormalizeStats, error) {
	var st NormalizeStats
	p := a.NewParser()
	var batch adapter.Batch
	w := bufio.NewWriterSize(out, 64<<10)
	var line []byte
	for _, in := range inputs {
		sc := bufio.NewScanner(in.R)
		sc.Buffer(make([]byte, 64<<10), adapter.MaxFrameBytes+1)
		n := 0
		for sc.Scan() {
			n++
			frame := bytes.TrimSpace(sc.Bytes())
			if len(frame) == 0 {
				continue
			}
			st.Lines++
			batch.Reset()
			_, err := p.Parse(frame, time.Now().UnixNano(), &batch)
			switch {
			case errors.Is(err, adapter.ErrUnsupported):
				st.Skipped++
				fmt.Fprintf(errOut, "%s:%d: skipped: %v\n", in.Name, n, err)
				continue
			case err != nil:
				st.Errors++
				fmt.Fprintf(errOut, "%s:%d: error: %v\n", in.Name, n, err)
				continue
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
		if err := sc.Err(); err != nil {
			st.Errors++
			fmt.Fprintf(errOut, "%s:%d: error: %v\n", in.Name, n+1, err)
			if errors.Is(err, bufio.ErrTooLong) {
				continue // the rest of this input cannot be framed; go on with the next
			}
		}
	}
	if err := w.Flush(); err != nil {
		return st, fmt.Errorf("normalize: writing output: %w", err)
	}
	if st.Errors > 0 {
		return st, fmt.Errorf("%w: %d of %d lines", ErrNormalize, st.Errors, st.Lines)
	}
	return st, nil
}
