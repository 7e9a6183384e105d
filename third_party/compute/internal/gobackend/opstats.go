// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package gobackend

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Op profile: when enabled (EnableOpProfile), every single-output node's
// executor is timed and the time is summed per op type and shapes, so that
// a training step's time can be attributed to ops (pprof names executors,
// not the shapes or permutations they ran on).

var (
	opProfileOn atomic.Bool
	opProfileMu sync.Mutex
	opProfile   = map[string]*OpProfileEntry{}
)

// OpProfileEntry is the time spent in one kind of node: op type, input
// shapes and output shape (and, for transposes, the permutation).
type OpProfileEntry struct {
	Key   string
	Op    string
	Count int
	Time  time.Duration
}

// EnableOpProfile turns the op profile on (cleared) or off (kept).
func EnableOpProfile(on bool) {
	if on {
		opProfileMu.Lock()
		opProfile = map[string]*OpProfileEntry{}
		opProfileMu.Unlock()
	}
	opProfileOn.Store(on)
}

func recordOpProfile(node *Node, d time.Duration) {
	var b strings.Builder
	b.WriteString(node.OpType.String())
	b.WriteString(" (")
	for i, in := range node.Inputs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(in.Shape.String())
	}
	b.WriteString(") -> ")
	b.WriteString(node.Shape.String())
	if node.Data != nil {
		if s, ok := node.Data.(fmt.Stringer); ok {
			b.WriteString(" " + s.String())
		} else if p, ok := node.Data.([]int); ok {
			fmt.Fprintf(&b, " %v", p)
		}
	}
	key := b.String()
	opProfileMu.Lock()
	e := opProfile[key]
	if e == nil {
		e = &OpProfileEntry{Key: key, Op: node.OpType.String()}
		opProfile[key] = e
	}
	e.Count++
	e.Time += d
	opProfileMu.Unlock()
}

// OpProfile returns the profile's entries, longest total time first.
func OpProfile() []OpProfileEntry {
	opProfileMu.Lock()
	defer opProfileMu.Unlock()
	out := make([]OpProfileEntry, 0, len(opProfile))
	for _, e := range opProfile {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Time != out[j].Time {
			return out[i].Time > out[j].Time
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// WriteOpProfile writes the total per op type, then the top entries.
func WriteOpProfile(w io.Writer, top int) {
	entries := OpProfile()
	var total time.Duration
	perOp := map[string]time.Duration{}
	for _, e := range entries {
		total += e.Time
		perOp[e.Op] += e.Time
	}
	ops := make([]string, 0, len(perOp))
	for op := range perOp {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return perOp[ops[i]] > perOp[ops[j]] })
	fmt.Fprintf(w, "op profile: %v in executors\n", total.Round(time.Millisecond))
	for _, op := range ops {
		fmt.Fprintf(w, "  %-22s %6.1f%%  %v\n", op, 100*float64(perOp[op])/float64(total), perOp[op].Round(time.Millisecond))
	}
	for i, e := range entries {
		if i == top {
			break
		}
		fmt.Fprintf(w, "  %5.1f%% %8v x%-4d %s\n", 100*float64(e.Time)/float64(total), e.Time.Round(time.Microsecond), e.Count, e.Key)
	}
}
