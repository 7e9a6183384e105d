package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestCompareTorchBadInputExits2(t *testing.T) {
	for _, args := range [][]string{
		{"--rounds", "0"},
		{"--torch-threads", "0"},
		{"--torch-long-conv", "dft"},
		{"--reference", "/nonexistent/reference.py"},
		{"--python", "/nonexistent/python3"},
		{"--torch-blas", "/nonexistent"},
		{"--precision", "bf16"},
	} {
		var so, se bytes.Buffer
		argv := append([]string{"star-pipeline", "bench", "trainer", "--compare-torch", "--width", "16", "--context", "16",
			"--batch", "1", "--steps", "1"}, args...)
		if code := run(argv, &so, &se); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, se.String())
		}
	}
}

func TestTorchRatiosPairRounds(t *testing.T) {
	runs := []torchRun{
		{Round: 1, Model: "hybrid", Impl: "go", TokensPerS: 100, TokensCPU: 60},
		{Round: 1, Model: "hybrid", Impl: "torch fft", TokensPerS: 200, TokensCPU: 100},
		{Round: 1, Model: "hybrid", Impl: "torch toeplitz", TokensPerS: 100, TokensCPU: 50},
		{Round: 2, Model: "hybrid", Impl: "go", TokensPerS: 120, TokensCPU: 60},
		{Round: 2, Model: "hybrid", Impl: "torch fft", TokensPerS: 100, TokensCPU: 60},
		{Round: 2, Model: "hybrid", Impl: "torch toeplitz", TokensPerS: 60, TokensCPU: 30},
		{Round: 1, Model: "transformer++", Impl: "go", TokensPerS: 50},
		{Round: 1, Model: "transformer++", Impl: "torch", TokensPerS: 100},
	}
	rs := torchRatios(runs, "go", "/blas", 2)
	if len(rs) != 3 || rs[0].Torch != "fft" || rs[1].Torch != "toeplitz" || rs[2].Torch != "-" {
		t.Fatalf("ratios: %+v", rs)
	}
	if !slices.Equal(rs[0].Ratios, []float64{0.5, 1.2}) || rs[0].Median != 0.85 || rs[0].Min != 0.5 || rs[0].Max != 1.2 {
		t.Errorf("fft: %+v", rs[0])
	}
	if !slices.Equal(rs[1].Ratios, []float64{1, 2}) || rs[1].GoTokensS != 110 || rs[1].PTTokensS != 80 {
		t.Errorf("toeplitz: %+v", rs[1])
	}
	if !slices.Equal(rs[0].CPURatios, []float64{0.6, 1}) || rs[0].CPUMedian != 0.8 {
		t.Errorf("fft per CPU-second: %+v", rs[0])
	}
	if rs[2].Median != 0.5 || len(rs[2].CPURatios) != 0 || rs[2].CPUMedian != 0 {
		t.Errorf("transformer++ (no CPU times): %+v", rs[2])
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if s := lastLines("a\nb\nc\n", 2); !strings.HasPrefix(s, "b") {
		t.Errorf("lastLines = %q", s)
	}
}
