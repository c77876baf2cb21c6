package gateway

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/journal"
	"github.com/tickline/tickline/shared/metrics/metricstest"
	"github.com/tickline/tickline/shared/wire"
	"github.com/tickline/tickline/shared/zmtp"
)

// TestJournalUsesGatewayCurve: a gateway with a curve section serves its journal with the
// same keys. An allow-listed receiver fetches what was published (checked against the
// records the test built, decoded); a receiver key not on the list and a plaintext client
// are refused, and /metrics counts them in journal_refused_total{reason}.
func TestJournalUsesGatewayCurve(t *testing.T) {
	topo := topology(t, "127.0.0.1:1", "binance")
	gc := &topo.Gateways[0]
	gPub, gSec, _ := zmtp.GenerateKeyPair()
	rPub, rSec, _ := zmtp.GenerateKeyPair()
	oPub, oSec, _ := zmtp.GenerateKeyPair()
	gc.Curve = &config.GatewayCurve{PublicKey: gPub.String(), SecretKey: gSec.String(), Allow: []string{rPub.String()}}
	g, err := New(topo, gc.ID, Options{Bind: "tcp://127.0.0.1:0", RetransmitBind: "tcp://127.0.0.1:0",
		Metrics: "127.0.0.1:0", MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		Journal: journal.ServerOptions{ReadTimeout: time.Second}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	runGateway(t, g)

	var b adapter.Batch
	fillBBO(&b, 20)
	g.publish(&b)

	fctx, fcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer fcancel()
	curve := func(pub, sec zmtp.Key) journal.FetchOptions {
		return journal.FetchOptions{Curve: &zmtp.Curve{Public: pub, Secret: sec, ServerKey: gPub}}
	}
	var got []wire.Header
	_, last, err := journal.FetchWith(fctx, g.RetransmitEndpoint(), 1, 100, curve(rPub, rSec), func(rec []byte) error {
		var h wire.Header
		if err := wire.ReadHeader(rec, &h); err != nil {
			return err
		}
		if !bytes.Contains(rec, []byte("BTC-USDT")) {
			return errors.New("record without its instrument")
		}
		got = append(got, h)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || last != 20 {
		t.Fatalf("fetched %d records, journal last %d; published 20", len(got), last)
	}
	for i, h := range got {
		if h.GatewaySeq != uint64(i+1) || h.Kind != wire.KindBBO {
			t.Fatalf("record %d: gateway seq %d kind %v", i, h.GatewaySeq, h.Kind)
		}
	}

	none := func([]byte) error { return errors.New("a refused client got a record") }
	if _, _, err := journal.FetchWith(fctx, g.RetransmitEndpoint(), 1, 100, curve(oPub, oSec), none); !errors.Is(err, zmtp.ErrPeerError) {
		t.Fatalf("receiver not on the allow list: %v", err)
	}
	if _, _, err := journal.Fetch(fctx, g.RetransmitEndpoint(), 1, 100, none); err == nil {
		t.Fatal("plaintext client served")
	}
	for _, reason := range []string{"unauthorized", "handshake"} {
		lbl := `tickline_journal_refused_total{gateway="` + gc.ID + `",reason="` + reason + `"}`
		testkit.Poll(t, 10*time.Second, lbl+" = 1", func() bool {
			_, body := metricstest.Get(t, "http://"+g.MetricsAddr()+"/metrics")
			v, ok := metricstest.Value(body, lbl)
			if ok && v > 1 {
				t.Fatalf("%s = %v", lbl, v)
			}
			return ok && v == 1
		})
	}
	if _, body := metricstest.Get(t, "http://"+g.MetricsAddr()+"/metrics"); !strings.Contains(body, `tickline_journal_records_sent_total{gateway="`+gc.ID+`"} 20`) {
		t.Error("journal_records_sent_total is not 20")
	}
}
