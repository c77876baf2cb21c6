package bus

import (
	"fmt"

	"github.com/tickline/tickline/shared/config"
)

// ReceiverOptions returns the subscriber options of a receiver (strategy, tap, archiver)
// that reads the gateways at endpoints eps, as the topology sets them: the bus section's
// message size and, when the receiver has a CURVE keypair (curve non-nil), its secret key
// and each gateway's public key.
func ReceiverOptions(topo *config.Topology, curve *config.ReceiverCurve, eps []string) (SubOptions, error) {
	so := SubOptions{MaxMessageBytes: topo.Bus.MaxMessageBytes}
	if ll := topo.Bus.LowLatency; ll != nil {
		so.ReadSpin = ll.Spin
	}
	if curve == nil {
		return so, nil
	}
	secret, err := curve.Secret()
	if err != nil {
		return so, fmt.Errorf("bus: receiver key: %w", err)
	}
	keys, _, err := topo.GatewayKeys(eps)
	if err != nil {
		return so, fmt.Errorf("bus: gateway keys: %w", err)
	}
	so.Curve = &CurveClient{Secret: secret, ServerKeys: keys}
	return so, nil
}
