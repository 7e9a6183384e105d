// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length, a JSON header mapping each tensor name to
// its dtype, shape and data_offsets (plus an optional "__metadata__" object
// of strings), then the raw little-endian tensor bytes. PyTorch's and
// JAX's safetensors loaders read what Write writes.
package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// DType is a tensor element type as the format spells it.
type DType string

// The element types this package knows, with their sizes in bytes.
const (
	Bool DType = "BOOL"
	U8   DType = "U8"
	I8   DType = "I8"
	I16  DType = "I16"
	U16  DType = "U16"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I32  DType = "I32"
	U32  DType = "U32"
	F32  DType = "F32"
	F64  DType = "F64"
	I64  DType = "I64"
	U64  DType = "U64"
)

var dtypeSize = map[DType]int{Bool: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8}

// Size is the size of one element in bytes, 0 for an unknown dtype.
func (d DType) Size() int { return dtypeSize[d] }

// MaxHeader is the largest header Parse accepts (the format's own limit).
const MaxHeader = 100 << 20

const metadataKey = "__metadata__"

// Tensor is one named tensor. Data holds its elements in row-major order,
// little-endian.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Elements is the number of elements Shape holds (1 for a scalar).
func (t Tensor) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32s decodes an F32 tensor's elements.
func (t Tensor) Float32s() ([]float32, error) {
	if t.DType != F32 {
		return nil, fmt.Errorf("tensor %s is %s, not F32", t.Name, t.DType)
	}
	out := make([]float32, len(t.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// File is a whole safetensors file: metadata and tensors in data order.
type File struct {
	Metadata map[string]string
	Tensors  []Tensor
}

// Tensor returns the tensor called name.
func (f File) Tensor(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// check reports the first tensor whose dtype, shape or data length is
// wrong, or a repeated or reserved name.
func (f File) check() error {
	seen := map[string]bool{}
	for _, t := range f.Tensors {
		switch {
		case t.Name == metadataKey:
			return fmt.Errorf("tensor name %q is not allowed", t.Name)
		case seen[t.Name]:
			return fmt.Errorf("tensor %s appears twice", t.Name)
		case t.DType.Size() == 0:
			return fmt.Errorf("tensor %s: unknown dtype %q", t.Name, t.DType)
		}
		seen[t.Name] = true
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("tensor %s: negative dimension in shape %v", t.Name, t.Shape)
			}
		}
		if want := t.Elements() * t.DType.Size(); len(t.Data) != want {
			return fmt.Errorf("tensor %s: %d bytes of data, its %s shape %v needs %d", t.Name, len(t.Data), t.DType, t.Shape, want)
		}
	}
	return nil
}

type entry struct {
	DType       DType    `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Write writes f: the header lists the metadata first and the tensors in
// the order of f.Tensors, whose data follows contiguously in that order.
// The header is padded with spaces to a multiple of 8 bytes so that the
// data starts aligned.
func Write(w io.Writer, f File) error {
	if err := f.check(); err != nil {
		return fmt.Errorf("writing safetensors: %w", err)
	}
	var head bytes.Buffer
	head.WriteByte('{')
	sep := func() {
		if head.Len() > 1 {
			head.WriteByte(',')
		}
	}
	if len(f.Metadata) > 0 {
		b, err := json.Marshal(f.Metadata) // keys sorted
		if err != nil {
			return fmt.Errorf("writing safetensors metadata: %w", err)
		}
		head.WriteString(strconv.Quote(metadataKey) + ":")
		head.Write(b)
	}
	var off int64
	for _, t := range f.Tensors {
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		b, err := json.Marshal(entry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + int64(len(t.Data))}})
		if err != nil {
			return fmt.Errorf("writing safetensors header: %w", err)
		}
		name, _ := json.Marshal(t.Name)
		sep()
		head.Write(name)
		head.WriteByte(':')
		head.Write(b)
		off += int64(len(t.Data))
	}
	head.WriteByte('}')
	for head.Len()%8 != 0 {
		head.WriteByte(' ')
	}
	if head.Len() > MaxHeader {
		return fmt.Errorf("writing safetensors: header of %d bytes exceeds the format's %d", head.Len(), MaxHeader)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(head.Len()))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	for _, t := range f.Tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// ErrFormat marks input that is not a valid safetensors file.
var ErrFormat = errors.New("not a valid safetensors file")

// Read reads a whole safetensors file from r.
func Read(r io.Reader) (File, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return File{}, fmt.Errorf("reading safetensors: %w", err)
	}
	return Parse(b)
}

// Parse decodes a safetensors file held in b. The tensors' Data alias b.
// It checks everything the format requires: a header within bounds that is
// a JSON object, known dtypes, data sizes that match the shapes, and
// offsets that cover the data buffer exactly, without gaps or overlaps.
func Parse(b []byte) (File, error) {
	bad := func(format string, args ...any) (File, error) {
		return File{}, fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	if len(b) < 8 {
		return bad("%d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeader || n > uint64(len(b)-8) {
		return bad("header length %d does not fit a %d-byte file", n, len(b))
	}
	head, data := b[8:8+n], b[8+n:]
	if len(head) == 0 || head[0] != '{' {
		return bad("header does not start with '{'")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(head, &raw); err != nil {
		return bad("header: %v", err)
	}
	var f File
	type placed struct {
		t  Tensor
		lo int64
	}
	var ts []placed
	for name, msg := range raw {
		if name == metadataKey {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return bad("metadata is not an object of strings: %v", err)
			}
			continue
		}
		var e entry
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return bad("tensor %s: %v", name, err)
		}
		size := e.DType.Size()
		if size == 0 {
			return bad("tensor %s: unknown dtype %q", name, e.DType)
		}
		elems := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && elems > int64(len(data))/int64(d)) {
				return bad("tensor %s: shape %v does not fit %d bytes of data", name, e.Shape, len(data))
			}
			elems *= int64(d)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if lo < 0 || hi < lo || hi > int64(len(data)) {
			return bad("tensor %s: data_offsets %v outside the %d bytes of data", name, e.DataOffsets, len(data))
		}
		if hi-lo != elems*int64(size) {
			return bad("tensor %s: data_offsets %v hold %d bytes, its %s shape %v needs %d",
				name, e.DataOffsets, hi-lo, e.DType, e.Shape, elems*int64(size))
		}
		if e.Shape == nil {
			e.Shape = []int{}
		}
		ts = append(ts, placed{Tensor{Name: name, DType: e.DType, Shape: e.Shape, Data: data[lo:hi:hi]}, lo})
	}
	// Data order, names breaking ties between empty tensors.
	slices.SortFunc(ts, func(a, b placed) int {
		if a.lo != b.lo {
			return cmp.Compare(a.lo, b.lo)
		}
		return cmp.Compare(a.t.Name, b.t.Name)
	})
	next := int64(0)
	for _, p := range ts {
		if p.lo != next {
			return bad("tensor %s starts at byte %d of the data, want %d (gap or overlap)", p.t.Name, p.lo, next)
		}
		next += int64(len(p.t.Data))
		f.Tensors = append(f.Tensors, p.t)
	}
	if next != int64(len(data)) {
		return bad("tensors cover %d of the %d bytes of data", next, len(data))
	}
	return f, nil
}
