package config

import (
	"bytes"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// envRef matches ${NAME} and ${NAME:-default} in a topology file.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// lookupEnv reads the environment (tests replace it).
var lookupEnv = os.LookupEnv

// expandEnv replaces ${NAME} with the environment variable's value, and ${NAME:-default}
// with the default when NAME is unset or empty, in the file's text before YAML is read
// (comments excepted). A ${NAME} whose variable is unset is an error naming it and its
// line: a file that asks for a setting does not run without it. "$NAME" without braces is
// left as written.
func expandEnv(data []byte) ([]byte, []*FieldError) {
	if !bytes.Contains(data, []byte("${")) {
		return data, nil
	}
	var errs []*FieldError
	lines := strings.SplitAfter(string(data), "\n")
	for i, line := range lines {
		code, comment := line, ""
		if j := commentStart(line); j >= 0 {
			code, comment = line[:j], line[j:]
		}
		code = envRef.ReplaceAllStringFunc(code, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			v, ok := lookupEnv(m[1])
			if m[2] != "" && v == "" {
				return m[3]
			}
			if !ok {
				e := fieldErr("", ErrMissing, "environment variable %s is not set (the file says %s; ${%s:-default} gives a default)", m[1], ref, m[1])
				e.Line = i + 1
				errs = append(errs, e)
			}
			return v
		})
		lines[i] = code + comment
	}
	return []byte(strings.Join(lines, "")), errs
}

// commentStart returns where a YAML comment starts on line (a # at the start or after a
// space, outside quotes), or -1.
func commentStart(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return i
		}
	}
	return -1
}

// List is a list of strings written either as a YAML sequence or as one comma-separated
// string ("a:1,b:2", what ${KAFKA_SEEDS} expands to); empty items are dropped.
type List []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = nil
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*l = append(*l, s)
			}
		}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}
