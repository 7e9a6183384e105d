package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

func f32(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// file builds a safetensors file by hand: the length, the header as given,
// the data.
func file(header string, data []byte) []byte {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	return append(append(n[:], header...), data...)
}

func TestWriteMatchesTheFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	err := Write(&buf, File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: f32(1, 2)}}})
	if err != nil {
		t.Fatal(err)
	}
	head := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	head += strings.Repeat(" ", (8-len(head)%8)%8)
	want := file(head, f32(1, 2))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("wrote\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	in := File{
		Metadata: map[string]string{"genome": "11111-92121", "dims": `{"width":16}`},
		Tensors: []Tensor{
			{Name: "embed", DType: F32, Shape: []int{2, 3}, Data: f32(1, -2, 3.5, float32(math.Inf(1)), 0, -0)},
			{Name: "slot_0/lambda", DType: F32, Shape: []int{1}, Data: f32(0.5)},
			{Name: "empty", DType: BF16, Shape: []int{0, 4}, Data: []byte{}},
			{Name: "scalar", DType: I64, Shape: []int{}, Data: make([]byte, 8)},
			{Name: "rng", DType: U64, Shape: []int{3}, Data: bytes.Repeat([]byte{7}, 24)},
		},
	}
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(buf.Bytes()); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	out, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Metadata) != 2 || out.Metadata["genome"] != "11111-92121" || out.Metadata["dims"] != `{"width":16}` {
		t.Errorf("metadata %v", out.Metadata)
	}
	if len(out.Tensors) != len(in.Tensors) {
		t.Fatalf("%d tensors back, want %d", len(out.Tensors), len(in.Tensors))
	}
	for _, w := range in.Tensors {
		g, ok := out.Tensor(w.Name)
		if !ok {
			t.Fatalf("tensor %s missing", w.Name)
		}
		if g.DType != w.DType || !equalInts(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("tensor %s: got %s %v %x, want %s %v %x", w.Name, g.DType, g.Shape, g.Data, w.DType, w.Shape, w.Data)
		}
	}
	e, _ := out.Tensor("embed")
	vs, err := e.Float32s()
	if err != nil || vs[2] != 3.5 || !math.IsInf(float64(vs[3]), 1) {
		t.Errorf("Float32s: %v, %v", vs, err)
	}
	if _, err := out.Tensors[len(out.Tensors)-1].Float32s(); err == nil {
		t.Error("Float32s of a U64 tensor: want an error")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWriteRejects(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]File{
		"short data":    {Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: f32(1)}}},
		"unknown dtype": {Tensors: []Tensor{{Name: "a", DType: "F8", Shape: []int{1}, Data: []byte{1}}}},
		"duplicate":     {Tensors: []Tensor{{Name: "a", DType: U8, Shape: []int{1}, Data: []byte{1}}, {Name: "a", DType: U8, Shape: []int{1}, Data: []byte{1}}}},
		"reserved name": {Tensors: []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{1}, Data: []byte{1}}}},
		"negative dim":  {Tensors: []Tensor{{Name: "a", DType: U8, Shape: []int{-1}, Data: nil}}},
	} {
		if err := Write(&bytes.Buffer{}, f); err == nil {
			t.Errorf("%s: Write accepted it", name)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	if _, err := Parse(file(ok, f32(1, 2))); err != nil {
		t.Fatalf("the valid file: %v", err)
	}
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"huge header":    huge,
		"not an object":  file(`[1, 2]`, nil),
		"bad json":       file(`{"a":`, nil),
		"unknown dtype":  file(`{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}`, f32(1, 2)),
		"size mismatch":  file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32(1, 2)),
		"out of bounds":  file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32(1, 2)),
		"trailing bytes": file(ok, f32(1, 2, 3)),
		"gap":            file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(1, 2)),
		"overlap": file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
			f32(1, 2)),
		"bad metadata":  file(`{"__metadata__":{"n":1}}`, nil),
		"unknown field": file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, f32(1, 2)),
		"huge shape":    file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, f32(1, 2)),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err %v, want ErrFormat", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, File{Metadata: map[string]string{"k": "v"}, Tensors: []Tensor{
		{Name: "a", DType: F32, Shape: []int{2}, Data: f32(1, 2)}, {Name: "b", DType: U8, Shape: []int{}, Data: []byte{9}}}})
	f.Add(buf.Bytes())
	f.Add(file(`{}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses writes back and parses to the same tensors.
		var out bytes.Buffer
		if err := Write(&out, got); err != nil {
			t.Fatalf("a parsed file does not write: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("written file does not parse: %v", err)
		}
		if len(again.Tensors) != len(got.Tensors) {
			t.Fatalf("%d tensors, then %d", len(got.Tensors), len(again.Tensors))
		}
		for i := range got.Tensors {
			if again.Tensors[i].Name != got.Tensors[i].Name || !bytes.Equal(again.Tensors[i].Data, got.Tensors[i].Data) {
				t.Fatalf("tensor %d changed", i)
			}
		}
	})
}
