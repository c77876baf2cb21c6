package zmtp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// Key is a Curve25519 public or secret key (32 bytes).
type Key [32]byte

// KeyTextSize is the length of a key in Z85 text, as zmq_curve_keypair prints it.
const KeyTextSize = 40

// ErrBadKey reports text that is not a 40-character Z85 key.
var ErrBadKey = errors.New("zmtp: bad CURVE key (want 40 Z85 characters)")

// String returns the key in Z85 (40 characters).
func (k Key) String() string { return string(Z85Encode(nil, k[:])) }

// IsZero reports whether k is all zero (unset).
func (k Key) IsZero() bool { return k == Key{} }

// ParseKey decodes a 40-character Z85 key; surrounding white space is ignored.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var k Key
	if len(s) != KeyTextSize {
		return k, fmt.Errorf("%w: %d characters", ErrBadKey, len(s))
	}
	if _, err := Z85Decode(k[:0], []byte(s)); err != nil {
		return k, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return k, nil
}

// ReadKeyFile reads a Z85 key from a file holding just the key (white space around it is
// ignored). The file is read through a small limit.
func ReadKeyFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("reading key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return Key{}, fmt.Errorf("reading key file %s: %w", path, err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// GenerateKeyPair returns a new long-term keypair (like zmq_curve_keypair).
func GenerateKeyPair() (public, secret Key, err error) {
	pub, sec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, Key{}, fmt.Errorf("generating CURVE keypair: %w", err)
	}
	return *pub, *sec, nil
}

// PublicFromSecret derives the public key of a secret key (like zmq_curve_public).
func PublicFromSecret(secret Key) Key {
	var pub Key
	curve25519.ScalarBaseMult((*[32]byte)(&pub), (*[32]byte)(&secret))
	return pub
}

// z85 is the Z85 alphabet (ZeroMQ RFC 32).
const z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

var z85Dec = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(z85); i++ {
		t[z85[i]] = byte(i)
	}
	return t
}()

// Z85Encode appends the Z85 encoding of src (a multiple of 4 bytes) to dst.
func Z85Encode(dst, src []byte) []byte {
	for i := 0; i+4 <= len(src); i += 4 {
		v := uint32(src[i])<<24 | uint32(src[i+1])<<16 | uint32(src[i+2])<<8 | uint32(src[i+3])
		var c [5]byte
		for j := 4; j >= 0; j-- {
			c[j] = z85[v%85]
			v /= 85
		}
		dst = append(dst, c[:]...)
	}
	return dst
}

// Z85Decode appends the bytes encoded by src (a multiple of 5 characters) to dst.
func Z85Decode(dst, src []byte) ([]byte, error) {
	if len(src)%5 != 0 {
		return dst, errors.New("z85: length not a multiple of 5")
	}
	for i := 0; i < len(src); i += 5 {
		var v uint64
		for j := 0; j < 5; j++ {
			d := z85Dec[src[i+j]]
			if d == 0xff {
				return dst, fmt.Errorf("z85: invalid character %q", src[i+j])
			}
			v = v*85 + uint64(d)
		}
		if v > 0xffffffff {
			return dst, errors.New("z85: group out of range")
		}
		dst = append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return dst, nil
}
