package config

import (
	"fmt"
	"slices"

	"github.com/tickline/tickline/shared/zmtp"
)

// GatewayCurve secures a gateway's bus endpoint with CURVE (RFC 26): subscribers must
// know PublicKey and hold a keypair listed in Allow. Keys are Z85 text, 40 characters,
// as `tickline keygen` or libzmq's zmq_curve_keypair print them.
type GatewayCurve struct {
	// PublicKey is the gateway's public key; receivers use it to authenticate the
	// gateway. Required.
	PublicKey string `yaml:"public_key"`
	// SecretKeyFile is a file holding the gateway's secret key (only on the gateway's
	// host). Exactly one of SecretKeyFile and SecretKey.
	SecretKeyFile string `yaml:"secret_key_file,omitempty"`
	// SecretKey is the secret key inline. The topology file is read by every process,
	// so prefer SecretKeyFile outside tests.
	SecretKey string `yaml:"secret_key,omitempty"`
	// Allow lists the public keys of the receivers allowed to subscribe; at least one,
	// no duplicates.
	Allow []string `yaml:"allow"`
}

// ReceiverCurve is a receiver's (strategy, archiver) CURVE keypair, used for every
// gateway it subscribes to; those gateways must all have a curve section.
type ReceiverCurve struct {
	// SecretKeyFile is a file holding the receiver's secret key. Exactly one of
	// SecretKeyFile and SecretKey.
	SecretKeyFile string `yaml:"secret_key_file,omitempty"`
	// SecretKey is the secret key inline (prefer SecretKeyFile outside tests).
	SecretKey string `yaml:"secret_key,omitempty"`
	// PublicKey, when given, is checked against the secret key at start (a guard
	// against deploying the wrong key file). Optional.
	PublicKey string `yaml:"public_key,omitempty"`
}

// Keys returns the gateway's secret key (read from SecretKeyFile when set) and the
// allowed receiver keys. The secret must match PublicKey.
func (c *GatewayCurve) Keys() (secret zmtp.Key, allowed []zmtp.Key, err error) {
	secret, err = loadSecret(c.SecretKey, c.SecretKeyFile)
	if err != nil {
		return secret, nil, err
	}
	pub, err := zmtp.ParseKey(c.PublicKey)
	if err != nil {
		return secret, nil, fmt.Errorf("curve.public_key: %w", err)
	}
	if zmtp.PublicFromSecret(secret) != pub {
		return secret, nil, fmt.Errorf("curve: the secret key does not belong to public_key %s", c.PublicKey)
	}
	for i, s := range c.Allow {
		k, err := zmtp.ParseKey(s)
		if err != nil {
			return secret, nil, fmt.Errorf("curve.allow[%d]: %w", i, err)
		}
		allowed = append(allowed, k)
	}
	return secret, allowed, nil
}

// Secret returns the receiver's secret key (read from SecretKeyFile when set), checked
// against PublicKey when that is given.
func (c *ReceiverCurve) Secret() (zmtp.Key, error) {
	secret, err := loadSecret(c.SecretKey, c.SecretKeyFile)
	if err != nil {
		return secret, err
	}
	if c.PublicKey != "" {
		pub, err := zmtp.ParseKey(c.PublicKey)
		if err != nil {
			return secret, fmt.Errorf("curve.public_key: %w", err)
		}
		if zmtp.PublicFromSecret(secret) != pub {
			return secret, fmt.Errorf("curve: the secret key does not belong to public_key %s", c.PublicKey)
		}
	}
	return secret, nil
}

func loadSecret(inline, file string) (zmtp.Key, error) {
	if file != "" {
		return zmtp.ReadKeyFile(file)
	}
	k, err := zmtp.ParseKey(inline)
	if err != nil {
		return k, fmt.Errorf("curve.secret_key: %w", err)
	}
	return k, nil
}

// GatewayKeys maps each endpoint (a gateway's publish endpoint, as receivers dial it) to
// that gateway's CURVE public key, and reports whether any is secured. A receiver passes
// its endpoints and gets what its bus subscriber needs, by endpoint index.
func (t *Topology) GatewayKeys(endpoints []string) (keys map[int]zmtp.Key, secured bool, err error) {
	keys = make(map[int]zmtp.Key)
	for i, ep := range endpoints {
		for j := range t.Gateways {
			g := &t.Gateways[j]
			if g.Publish != ep || g.Curve == nil {
				continue
			}
			k, err := zmtp.ParseKey(g.Curve.PublicKey)
			if err != nil {
				return nil, false, fmt.Errorf("gateways[%d].curve.public_key: %w", j, err)
			}
			keys[i] = k
			secured = true
		}
	}
	if secured && len(keys) != len(endpoints) {
		return nil, false, fmt.Errorf("%w: some gateways have a curve section and others not; a receiver speaks one mechanism", ErrConflict)
	}
	return keys, secured, nil
}

// curve validates the CURVE sections: key formats, exactly one secret source, a
// non-empty allow list, and receivers whose gateways are all secured or all not.
func (v *validator) curve(t *Topology) {
	for i := range t.Gateways {
		c := t.Gateways[i].Curve
		if c == nil {
			continue
		}
		p := fmt.Sprintf("gateways[%d].curve", i)
		pub, okPub := v.key(p+".public_key", c.PublicKey, true)
		if sec, ok := v.secret(p, c.SecretKey, c.SecretKeyFile); ok && okPub && zmtp.PublicFromSecret(sec) != pub {
			v.add(p+".secret_key", ErrConflict, "the secret key does not belong to public_key %s", c.PublicKey)
		}
		if len(c.Allow) == 0 {
			v.add(p+".allow", ErrMissing, "at least one receiver public key is required (tickline keygen prints keypairs)")
		}
		for j, k := range c.Allow {
			jp := fmt.Sprintf("%s.allow[%d]", p, j)
			if _, ok := v.key(jp, k, true); ok && slices.Contains(c.Allow[:j], k) {
				v.add(jp, ErrDuplicate, "key listed twice")
			}
		}
	}
	receiver := func(p string, c *ReceiverCurve, ids []string) {
		secured, plain := "", ""
		for _, id := range ids {
			g, err := t.Gateway(id)
			if err != nil {
				continue // reported by the section's own checks
			}
			if g.Curve != nil {
				secured = id
			} else {
				plain = id
			}
		}
		switch {
		case secured != "" && plain != "":
			v.add(p, ErrConflict, "gateway %q has a curve section and %q has none; a receiver speaks one mechanism to all its gateways", secured, plain)
		case secured != "" && c == nil:
			v.add(p, ErrMissing, "required: gateway %q requires CURVE (set secret_key_file)", secured)
		case secured == "" && c != nil:
			v.add(p, ErrConflict, "no subscribed gateway has a curve section")
		}
		if c == nil {
			return
		}
		v.secret(p, c.SecretKey, c.SecretKeyFile)
		if c.PublicKey != "" {
			v.key(p+".public_key", c.PublicKey, true)
		}
	}
	all := make([]string, 0, len(t.Gateways))
	for _, g := range t.Gateways {
		all = append(all, g.ID)
	}
	subs := t.Strategy.Subscribe
	if len(subs) == 0 {
		subs = all
	}
	receiver("strategy.curve", t.Strategy.Curve, subs)
	receiver("archiver.curve", t.Archiver.Curve, all)
}

// key checks a Z85 key.
func (v *validator) key(path, s string, required bool) (zmtp.Key, bool) {
	if s == "" {
		if required {
			v.add(path, ErrMissing, "required: a 40-character Z85 key")
		}
		return zmtp.Key{}, false
	}
	k, err := zmtp.ParseKey(s)
	if err != nil {
		v.add(path, ErrFormat, "not a 40-character Z85 key (%d characters)", len(s))
		return k, false
	}
	return k, true
}

// secret checks that exactly one secret source is set; it returns the inline key when
// that is the one.
func (v *validator) secret(p, inline, file string) (zmtp.Key, bool) {
	switch {
	case inline != "" && file != "":
		v.add(p+".secret_key", ErrConflict, "set secret_key or secret_key_file, not both")
	case inline == "" && file == "":
		v.add(p+".secret_key_file", ErrMissing, "required: secret_key_file (or secret_key)")
	case inline != "":
		return v.key(p+".secret_key", inline, true)
	}
	return zmtp.Key{}, false
}
