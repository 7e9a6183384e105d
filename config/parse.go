package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Example is example.yaml: every field with its default and a comment.
//
//go:embed example.yaml
var Example []byte

// FieldError is one problem with one field, named by its path in the file
// (such as "search.depth" or "quality.mad[2].vocab").
type FieldError struct {
	Path string // dotted path; list elements as [i]
	Line int    // line in the file, 0 when unknown
	Msg  string
}

func (e *FieldError) Error() string {
	s := e.Msg
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	return s
}

// Errors is every problem found in a configuration, in file order where
// known. Parse and Validate return it so all problems are reported at once.
type Errors []*FieldError

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns each problem as an error, for errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Load reads and parses the configuration file at path.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("loading config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("loading config %s: %w", path, err)
	}
	return c, nil
}

// Parse parses one YAML document on top of Default and validates the
// result. Unknown keys, values of the wrong type and invalid values are all
// reported together as Errors; a document that is not YAML is reported as
// a plain error. Empty input yields Default.
func Parse(data []byte) (Config, error) {
	c := base()
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			c.applyDefaults()
			return c, c.Validate()
		}
		return Config{}, fmt.Errorf("reading yaml: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("reading yaml: want one document, found more")
	}

	w := walker{lines: map[string]int{}}
	w.walk(&root, reflect.TypeOf(c), "")

	// KnownFields repeats the walker's unknown-key check with yaml's own
	// rules; its messages only matter if the walker missed something.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&c); err != nil && len(w.errs) == 0 {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return Config{}, fmt.Errorf("reading yaml: %w", err)
		}
		for _, m := range te.Errors {
			w.errs = append(w.errs, yamlMessage(m))
		}
	}
	c.applyDefaults()
	errs := w.errs
	bad := map[string]bool{}
	for _, e := range errs {
		bad[e.Path] = true
	}
	if err := c.Validate(); err != nil {
		for _, e := range err.(Errors) {
			if bad[e.Path] {
				continue // already reported as unreadable
			}
			e.Line = w.line(e.Path)
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return Config{}, Errors(errs)
	}
	return c, nil
}

// YAML returns c as a YAML document that Parse reads back to c.
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	return buf.Bytes(), nil
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

func yamlMessage(m string) *FieldError {
	if sub := lineRE.FindStringSubmatch(m); sub != nil {
		n, _ := strconv.Atoi(sub[1])
		return &FieldError{Line: n, Msg: sub[2]}
	}
	return &FieldError{Msg: m}
}

func sortErrors(es []*FieldError) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// walker checks a YAML tree against the Go type it decodes into, so that
// unknown keys and mistyped scalars are reported with their field paths.
type walker struct {
	errs  []*FieldError
	lines map[string]int // field path -> line of its key or element
}

func (w *walker) fail(path string, n *yaml.Node, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line where path, or its closest ancestor, appears.
func (w *walker) line(path string) int {
	for p := path; p != ""; {
		if l, ok := w.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

var durationType = reflect.TypeOf(time.Duration(0))

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			w.walk(n.Content[0], t, path)
		}
		return
	case yaml.AliasNode:
		// Aliased content is checked where its anchor is defined.
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null keeps the default
	}
	switch t.Kind() {
	case reflect.Pointer:
		w.walk(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.fail(path, n, "want a mapping, got %s", describe(n))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				continue
			}
			p := join(path, k.Value)
			w.lines[p] = k.Line
			f, ok := fields[k.Value]
			if !ok {
				w.fail(p, k, "unknown field")
				continue
			}
			w.walk(v, f, p)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(path, n, "want a list, got %s", describe(n))
			return
		}
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = e.Line
			w.walk(e, t.Elem(), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(path, n, "want a mapping, got %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			w.lines[p] = k.Line
			if k.Kind != yaml.ScalarNode {
				w.fail(p, k, "want a name as key, got %s", describe(k))
				continue
			}
			w.walk(v, t.Elem(), p)
		}
	default:
		w.scalar(n, t, path)
	}
}

func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.fail(path, n, "want %s, got %s", want(t), describe(n))
		return
	}
	tag := n.ShortTag()
	ok := true
	switch {
	case t == durationType:
		_, err := time.ParseDuration(n.Value)
		ok = tag == "!!str" && err == nil
	case t.Kind() == reflect.String:
		ok = tag != "!!binary"
	case t.Kind() == reflect.Bool:
		ok = tag == "!!bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		ok = tag == "!!int"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		ok = tag == "!!int" || tag == "!!float"
	}
	if ok {
		// Let yaml decide ranges (negative into unsigned, overflow).
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			ok = false
		}
	}
	if !ok {
		w.fail(path, n, "want %s, got %q", want(t), n.Value)
	}
}

func want(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 30m or 2h"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return "a non-negative integer"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Map || t.Kind() == reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return strconv.Quote(n.Value)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct type t to their field types,
// flattening inline fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
