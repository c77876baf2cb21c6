package upbit

import (
	"fmt"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/upbitapi"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes Upbit frames (adapter/upbitapi reads the messages). It is owned by
// one goroutine.
type Parser struct {
	upbitapi.Parser
	one [1]*fastjson.Value
}

func newParser() *Parser {
	return &Parser{Parser: upbitapi.NewParser(upbitapi.Venue{Exchange: wire.Upbit, Instrument: instrument})}
}

// Parse normalizes one frame (text or binary): a data object, a SIMPLE_LIST/JSON_LIST
// array of them, {"status":"UP"} (control) or {"error":{...}} (error).
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.Fast(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Frame(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	res := adapter.ResultData
	for _, o := range upbitapi.Messages(v, &ps.one) {
		if res, err = ps.object(o, recvNs, out); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (ps *Parser) object(v *fastjson.Value, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if v.Type() != fastjson.TypeObject {
		return adapter.ResultData, fmt.Errorf("%w: message is %s, want object", adapter.ErrMalformed, v.Type())
	}
	if res, ok, err := ps.Message(v, recvNs, out); ok {
		return res, err
	}
	if v.Exists("status") || v.Exists("method") || v.Exists("mthd") {
		return adapter.ResultControl, nil // {"status":"UP"}, LIST_SUBSCRIPTIONS answers
	}
	return adapter.ResultData, fmt.Errorf("%w: message without type", adapter.ErrMalformed)
}

// instrument converts a market code ("KRW-BTC", quote first) to the canonical instrument.
func instrument(dst *wire.Name, code []byte) error {
	return adapter.InstrumentSep(dst, code, '-', true)
}
