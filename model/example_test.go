package model_test

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/model"
)

func Example() {
	g := genome.MustParse("11111-92121") // SA-1 then GMemless
	cfg := arch.Config{Width: 32, HeadDim: 8, Context: 8, Vocab: 16}
	m, err := model.New(g, cfg)
	if err != nil {
		panic(err)
	}
	backend, err := model.NewBackend("go")
	if err != nil {
		panic(err)
	}
	store, err := model.NewStore(42)
	if err != nil {
		panic(err)
	}
	exec, err := mlmodel.NewExec(backend, store, func(scope *mlmodel.Scope, tokens *graph.Node) (*graph.Node, *graph.Node) {
		return m.Forward(scope.In("lm"), tokens)
	})
	if err != nil {
		panic(err)
	}
	tokens := [][]int32{{1, 2, 3, 4, 5, 6, 7, 8}}
	out, err := exec.Call(tokens)
	if err != nil {
		panic(err)
	}
	params, _ := arch.Params(g, cfg)
	fmt.Println("logits", out[0].Shape())
	fmt.Println("aux", out[1].Value())
	fmt.Println("params", model.CountParams(store.Scope("/lm")), "arch", params)
	// Output:
	// logits (Float32)[1, 8, 16]
	// aux 0
	// params 16992 arch 16992
}
