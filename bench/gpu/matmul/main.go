//go:build xla

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	_ "github.com/gomlx/go-xla/compute/xla"
	. "github.com/gomlx/gomlx/core/graph"
)

func main() {
	backend, err := compute.NewWithConfig(os.Args[1])
	if err != nil {
		fmt.Println("backend:", err)
		os.Exit(1)
	}
	fmt.Println("backend ok:", backend.Name(), backend.Description())
	for _, n := range []int{4096, 8192} {
		const rounds = 20
		exec, err := NewExec(backend, func(seed *Node) *Node {
			g := seed.Graph()
			m := Sin(Add(IotaFull(g, shapes.Make(dtypes.Float32, n, n)), seed))
			m = ConvertDType(MulScalar(m, 0.01), dtypes.BFloat16)
			x := m
			for i := 0; i < rounds; i++ {
				x = MatMul(x, m)
			}
			return ReduceAllSum(ConvertDType(x, dtypes.Float32))
		})
		if err != nil {
			fmt.Println("exec:", err)
			os.Exit(1)
		}
		if _, err := exec.Call(float32(0)); err != nil {
			fmt.Println("call:", err)
			os.Exit(1)
		}
		best := time.Hour
		for r := 0; r < 5; r++ {
			t0 := time.Now()
			if _, err := exec.Call(float32(r)); err != nil {
				fmt.Println("call:", err)
				os.Exit(1)
			}
			if d := time.Since(t0); d < best {
				best = d
			}
		}
		flops := float64(rounds) * 2 * float64(n) * float64(n) * float64(n)
		fmt.Printf("bf16 matmul n=%d: %.1f TFLOP/s (%.2f ms per call)\n", n, flops/best.Seconds()/1e12, best.Seconds()*1e3)
	}
}
