package model

import (
	"runtime"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

func TestNewRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		g    genome.Genome
		cfg  arch.Config
		want string
	}{
		{"empty", nil, arch.Config{}, "empty genome"},
		{"unknown class", genome.Genome{{Class: 19, FeatGroup: 1, FeatStrategy: 1, ShareGroup: 1, ShareStrategy: 1}}, arch.Config{}, "not a LIV class"},
		{"head dim", classGenome(1), arch.Config{Width: 60, HeadDim: 16}, "does not divide width"},
		{"kv repeat", classGenome(genome.SA3), arch.Config{Width: 32, HeadDim: 16}, "groups 4 query heads per K/V head"},
		{"odd head dim", classGenome(1), arch.Config{Width: 30, HeadDim: 5, Context: 8}, "must be even"},
		{"top k", classGenome(genome.MoE), arch.Config{Experts: 2, TopK: 3}, "top k must be in 1..2"},
		{"filter features", classGenome(genome.GConv2), arch.Config{FilterFeatures: 8}, "filter features must be odd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.g, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := New(classGenome(1), arch.Config{}, WithDType(dtypes.Int32)); err == nil {
		t.Error("New accepted an int32 model dtype")
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	m, err := New(classGenome(1), arch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Config(), (arch.Config{}).WithDefaults(); got != want {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
	if m.DType() != dtypes.Float32 {
		t.Errorf("default dtype %s, want float32", m.DType())
	}
}

func TestLambdaInit(t *testing.T) {
	t.Parallel()
	_, store := buildModel(t, classGenome(genome.GConv1+9), tinyConfig(), 1, dtypes.Float32)
	v := store.GetVariable("/slot_0/lambda")
	if v == nil {
		t.Fatal("no /slot_0/lambda")
	}
	if got := flat[float32](t, v.MustValue()); len(got) != 1 || got[0] != LambdaInit {
		t.Errorf("lambda = %v, want [%g]", got, LambdaInit)
	}
}

func TestNewBackend(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"go", "go:ops_parallel"} {
		b, err := NewBackend(spec)
		if err != nil {
			t.Fatalf("NewBackend(%q): %v", spec, err)
		}
		if b.Name() != "Go Backend" {
			t.Errorf("NewBackend(%q) = %s", spec, b.Name())
		}
	}
	if runtime.NumCPU() <= 2 {
		b, err := NewBackend("go")
		if err != nil {
			t.Fatal(err)
		}
		if d := b.Description(); !strings.Contains(d, "parallelism=-1") {
			t.Errorf("on %d CPUs NewBackend(go) = %q, want parallelism=-1", runtime.NumCPU(), d)
		}
	}
	if _, err := NewBackend("tpu:x"); err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Errorf("NewBackend(tpu:x) error = %v", err)
	}
	if _, err := NewBackend("go:nonsense"); err == nil {
		t.Error("NewBackend(go:nonsense) accepted an unknown option")
	}
}
