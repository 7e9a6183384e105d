package model

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/graph"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// BenchmarkStep times one forward+backward pass (next-token cross-entropy
// plus aux, gradients of every variable; no optimizer update) of each class
// alone (one slot) at width 64, L 256, batch 8.
func BenchmarkStep(b *testing.B) {
	const batch = 8
	cfg := arch.Config{Width: 64, Context: 256}
	for _, c := range genome.Classes() {
		g := genome.Genome{{Class: c.ID, FeatGroup: 1, FeatStrategy: 1, ShareGroup: 1, ShareStrategy: 1}}
		b.Run(fmt.Sprintf("%02d-%s", c.ID, c.Name), func(b *testing.B) {
			benchmarkStep(b, g, cfg, batch)
		})
	}
}

func benchmarkStep(b *testing.B, g genome.Genome, cfg arch.Config, batch int) {
	m, err := New(g, cfg)
	if err != nil {
		b.Fatal(err)
	}
	c := m.Config()
	e, err := mlmodel.NewExec(testBackend(b), newTestStore(b, 1), func(scope *mlmodel.Scope, tokens *graph.Node) []*graph.Node {
		loss := nextTokenLoss(m, scope, tokens)
		var nodes []*graph.Node
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(loss.Graph()) {
				nodes = append(nodes, v.NodeValue(loss.Graph()))
			}
		}
		return append([]*graph.Node{loss}, graph.Gradient(loss, nodes...)...)
	})
	if err != nil {
		b.Fatal(err)
	}
	tok := randomTokens(rand.New(rand.NewPCG(1, 2)), batch, c.Context, c.Vocab)
	if _, err := e.Call(tok); err != nil { // compile and initialise
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Call(tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	fc, err := FLOPs(g, cfg)
	if err == nil {
		b.ReportMetric(float64(fc.TrainStep(batch))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
}

// nextTokenLoss is the mean cross-entropy of predicting token t+1 from
// positions <= t, plus the auxiliary loss.
func nextTokenLoss(m *Model, scope *mlmodel.Scope, tokens *graph.Node) *graph.Node {
	logits, aux := m.Forward(scope, tokens)
	dims := logits.Shape().Dimensions
	bsz, l, v := dims[0], dims[1], dims[2]
	all := graph.AxisRange()
	pred := graph.Slice(logits, all, graph.AxisRange(0, l-1), all)
	target := graph.Slice(tokens, all, graph.AxisRange(1, l))
	logp := graph.LogSoftmax(pred, -1)
	onehot := graph.OneHot(target, v, logits.DType())
	nll := graph.Neg(graph.ReduceAllSum(graph.Mul(logp, onehot)))
	return graph.Add(graph.DivScalar(nll, float64(bsz*(l-1))), aux)
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// varies less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
