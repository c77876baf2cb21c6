package config

import (
	"errors"
	"fmt"
)

// ErrInvalid matches (with errors.Is) every problem found in a topology file: malformed YAML,
// unknown keys, values of the wrong type and failed validation. Errors that do not match it
// come from reading the file.
var ErrInvalid = errors.New("config: invalid topology")

// Categories of FieldError. Each FieldError unwraps to exactly one of these, and also matches
// ErrInvalid.
var (
	// ErrSyntax: the file is not well-formed YAML (or holds more than one document).
	ErrSyntax = errors.New("malformed YAML")
	// ErrUnknownKey: a key that is not part of the schema (strict loading).
	ErrUnknownKey = errors.New("unknown key")
	// ErrType: a value of the wrong YAML type, e.g. a string where a number belongs, or an
	// integer that does not fit its field.
	ErrType = errors.New("wrong type")
	// ErrMissing: a required value is absent or empty.
	ErrMissing = errors.New("missing value")
	// ErrDuplicate: a value that must be unique appears twice, or a key is given twice in
	// one mapping.
	ErrDuplicate = errors.New("duplicate value")
	// ErrUnknownName: a name that refers to nothing (region, gateway, exchange, channel, ...).
	ErrUnknownName = errors.New("unknown name")
	// ErrRange: a number or duration outside its allowed range, including NaN and ±Inf.
	ErrRange = errors.New("out of range")
	// ErrFormat: a malformed string: endpoint, URL, address, id, symbol, speed, ...
	ErrFormat = errors.New("malformed value")
	// ErrConflict: values that are fine alone but not together (two exchanges on one
	// partition of a topic, both fx sources set, ...).
	ErrConflict = errors.New("conflicting values")
)

// FieldError is one problem with one field. Path is the field's YAML path
// ("gateways[1].exchanges.binance.symbols.BTCUSDT"); Err is one of the category sentinels
// above; Detail is the human-readable rest; Line is the 1-based line in the file when known
// (0 otherwise: values set by defaults or by code have no line).
type FieldError struct {
	Path   string
	Line   int
	Err    error
	Detail string
}

// Error renders "path: detail (line N)".
func (e *FieldError) Error() string {
	s := e.Detail
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	return s
}

// Unwrap returns the category sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// fieldErr builds a FieldError; format/args become the Detail.
func fieldErr(path string, category error, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Err: category, Detail: fmt.Sprintf(format, args...)}
}

// joinErrs turns a list of field errors into one error (nil for none). The result's message
// has one line per problem, in file order; errors.As finds the first *FieldError.
func joinErrs(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
