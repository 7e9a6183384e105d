package dashboard

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

func TestNiceTicks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lo, hi  float64
		n       int
		integer bool
		want    []float64
	}{
		{0.36, 0.63, 6, false, []float64{0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65}},
		{240000, 455000, 5, false, []float64{200000, 250000, 300000, 350000, 400000, 450000, 500000}},
		{0, 2, 6, true, []float64{0, 1, 2}},
		{3, 3, 5, true, []float64{2, 3, 4}},
		{0.5, 0.5, 5, false, []float64{0.45, 0.475, 0.5, 0.525, 0.55}},
	}
	for _, tc := range tests {
		got, lo, hi := niceTicks(tc.lo, tc.hi, tc.n, tc.integer)
		if len(got) != len(tc.want) {
			t.Errorf("niceTicks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-9 {
				t.Errorf("niceTicks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
				break
			}
		}
		if lo > tc.lo || hi < tc.hi {
			t.Errorf("niceTicks(%v, %v) spans [%v, %v]: does not cover the data", tc.lo, tc.hi, lo, hi)
		}
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{412000: "412k", 1.25e6: "1.25M", 3e9: "3G", 0.42: "0.42", 31.5: "31.5", 2: "2",
		-20000: "-20k"} {
		if got := compact(v); got != want {
			t.Errorf("compact(%v) = %q, want %q", v, got, want)
		}
	}
	for d, want := range map[time.Duration]string{12 * time.Second: "12s", 250 * time.Second: "4m10s",
		3 * time.Minute: "3m", 2*time.Hour + 5*time.Minute: "2h05m", 80 * time.Hour: "3d08h"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 134656: "131.5 KiB", 805306368: "768.0 MiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParetoChart(t *testing.T) {
	t.Parallel()
	d := runview.ParetoData{Run: "r", X: "a", Y: "b", Points: []runview.Point{
		{Candidate: "r/g000/c0000", X: 1, Y: 3, Front: true, Seed: true},
		{Candidate: "r/g000/c0001", X: 2, Y: 2, Front: true},
		{Candidate: "r/g000/c0002", X: 3, Y: 3},
		{Candidate: "r/g001/c0000", X: 2, Y: 2, Copy: true},
	}}
	c := paretoChart(d)
	var front int
	for _, m := range c.Marks {
		if m.Front {
			front++
		}
		if m.X < c.Left || m.X > c.Right || m.Y < c.Top || m.Y > c.Bottom {
			t.Errorf("mark %+v outside the plot area", m)
		}
	}
	if front != 2 || len(c.Marks) != 4 || len(c.Lines) != 1 {
		t.Errorf("chart has %d front marks of %d and %d lines", front, len(c.Marks), len(c.Lines))
	}
	// Front marks are drawn last, on top.
	if !c.Marks[len(c.Marks)-1].Front || c.Marks[0].Front {
		t.Errorf("front marks are not drawn last: %+v", c.Marks)
	}
	if e := paretoChart(runview.ParetoData{X: "a", Y: "b"}); e.Empty == "" || len(e.Marks) != 0 {
		t.Errorf("empty chart %+v", e)
	}
}

func TestBackboneStrip(t *testing.T) {
	t.Parallel()
	g := genome.MustParse("21111-12121-63231-18.4.1.4.1-95151-56161-63273-67173")
	s := backboneStrip(g)
	if len(s.Slots) != 8 {
		t.Fatalf("%d slots", len(s.Slots))
	}
	var kinds []string
	for _, a := range s.Arcs {
		kinds = append(kinds, a.Kind)
	}
	slices.Sort(kinds)
	if strings.Join(kinds, ",") != "C,feat" {
		t.Errorf("arcs %v, want a featurizer arc and a C arc", kinds)
	}
	for _, a := range s.Arcs {
		if a.Kind == "feat" && a.LY > s.SlotY || a.Kind == "C" && a.LY < s.SlotY+s.SlotH {
			t.Errorf("arc %s labelled on the wrong side: %+v", a.Kind, a)
		}
		if a.LY < 0 || a.LY > s.H {
			t.Errorf("arc label outside the strip: %+v (height %v)", a, s.H)
		}
	}
	if last := s.Slots[7]; last.X+last.W > s.W {
		t.Errorf("last slot ends at %v, past the strip's width %v", last.X+last.W, s.W)
	}
	// A deep backbone still fits, without names in the slots.
	deep := backboneStrip(genome.MustParse(strings.Repeat("11111-91111-", 23) + "11111-91111"))
	if len(deep.Slots) != 48 || deep.Labels || deep.W > 1100 {
		t.Errorf("48 slots: %d slots, labels %v, width %v", len(deep.Slots), deep.Labels, deep.W)
	}
}

func TestFinalChart(t *testing.T) {
	t.Parallel()
	row := func(name string, role storage.FinalRole, ppl []float64, cache float64) study.Row {
		return study.Row{Name: name, Role: role, Source: "r/g000/c0000", Values: map[string]study.Stat{
			"perplexity": study.NewStat(ppl), "cache_bytes": {Mean: cache, N: len(ppl)}}}
	}
	rep := study.Report{Objectives: []string{"perplexity", "cache_bytes"}, Rows: []study.Row{
		row("transformer++", storage.RoleBaseline, []float64{10, 12}, 131072),
		row("STAR-1", storage.RoleCandidate, []float64{8, 8.5, 9}, 20000),
	}}
	c := finalChart(rep)
	if c.Empty != "" || len(c.Marks) != 2 || len(c.Lines) != 2 || len(c.Labels) != 2 {
		t.Fatalf("chart: empty %q, %d marks, %d error bars, %d labels", c.Empty, len(c.Marks), len(c.Lines), len(c.Labels))
	}
	if !c.Marks[0].Seed || c.Marks[1].Seed || c.Labels[1].Text != "STAR-1" || c.XLabel != "cache_bytes" {
		t.Errorf("marks %+v labels %+v x %s", c.Marks, c.Labels, c.XLabel)
	}
	// Lower perplexity is drawn higher up the page (smaller pixel y) only
	// when it is larger: STAR-1 (8.5) lies below transformer++ (11).
	if c.Marks[1].Y <= c.Marks[0].Y {
		t.Errorf("STAR-1 at y=%g, transformer++ at y=%g: lower perplexity should be lower on the chart", c.Marks[1].Y, c.Marks[0].Y)
	}
}
