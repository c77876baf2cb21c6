package sim

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"
)

// loadReplay reads recorded frames: one raw frame per line; blank lines and lines
// starting with '#' are skipped.
func loadReplay(files []string) ([][]byte, error) {
	var out [][]byte
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("sim: replay: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			out = append(out, bytes.Clone(line))
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("sim: replay %s: %w", name, err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sim: replay %s: no frames", strings.Join(files, ", "))
	}
	return out, nil
}

// replayBinary reports whether the exchange sends data as binary frames on this path
// (binaryFramer: Upbit, and Bithumb's Upbit-compatible v2 endpoint).
func (c *conn) replayBinary() bool {
	b, ok := c.hub.v.(binaryFramer)
	return ok && b.binaryFrames(c.path)
}

// startReplay starts the connection's replay goroutine once (on its first subscription).
// Called on the reader goroutine, before serve waits for c.wg.
func (c *conn) startReplay() {
	if !c.replaying.CompareAndSwap(false, true) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.replay()
	}()
}

// replay queues the recorded frames at Rate frames per second (bursts per tick, subject
// to faults like model data; every frame counts as a delta) until the end of the files
// (or forever with ReplayLoop) or the connection closes.
func (c *conn) replay() {
	lines, rate := c.hub.replay, c.srv.opts.Rate
	op := opText
	if c.replayBinary() {
		op = opBinary
	}
	iv := 10 * time.Millisecond
	if rate >= 500 {
		iv = time.Millisecond
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	last, due, i := time.Now(), 1.0, 0
	for {
		for ; due >= 1; due-- {
			if i == len(lines) {
				if !c.srv.opts.ReplayLoop {
					return
				}
				i = 0
			}
			c.push(outFrame{b: lines[i], op: op, kind: fDelta})
			i++
		}
		select {
		case <-c.done:
			return
		case now := <-t.C:
			due += rate * min(now.Sub(last).Seconds(), 0.25)
			last = now
		}
	}
}
