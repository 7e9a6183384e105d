package model

import (
	"testing"

	mlmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

func TestSmoke(t *testing.T) {
	b, err := NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	cfg := arch.Config{Width: 32, HeadDim: 8, Context: 8, Vocab: 16}
	for id := 1; id <= 18; id++ {
		g := genome.Genome{{Class: id, FeatGroup: 1, FeatStrategy: 1, ShareGroup: 1, ShareStrategy: 1}, {Class: 9, FeatGroup: 2, FeatStrategy: 1, ShareGroup: 2, ShareStrategy: 1}}
		m, err := New(g, cfg)
		if err != nil {
			t.Fatal(err)
		}
		store, _ := NewStore(1)
		e, err := mlmodel.NewExec(b, store, func(scope *mlmodel.Scope, tokens *graph.Node) (*graph.Node, *graph.Node) {
			return m.Forward(scope, tokens)
		})
		if err != nil {
			t.Fatal(err)
		}
		tok := [][]int32{{1, 2, 3, 4, 5, 6, 7, 8}, {3, 3, 3, 3, 1, 1, 1, 1}}
		out, err := e.Call(tok)
		if err != nil {
			t.Fatalf("class %d: %v", id, err)
		}
		t.Logf("class %d: %s aux %v params %d", id, out[0].Shape(), out[1].Value(), CountParams(store.RootScope()))
	}
}
