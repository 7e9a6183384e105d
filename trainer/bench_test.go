package trainer

import (
	"testing"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
)

// BenchmarkTrainStep times one optimizer step (after compilation) of the
// learning-test model and of the reference hybrid of bench trainer at
// width 128; run with -cpuprofile to see where training time goes.
func BenchmarkTrainStep(b *testing.B) {
	for _, bc := range []struct {
		name   string
		genome string
		dims   arch.Config
		batch  int
	}{
		{"recall-w64", "11111-11111-91111", arch.Config{Width: 64, Context: 64}, 32},
		{"hybrid-w128", "11111-91111-51111-91111-81111-91111-11111-91111", arch.Config{Width: 128, Context: 256}, 8},
	} {
		b.Run(bc.name, func(b *testing.B) {
			task, err := data.NewMAD(data.MADConfig{Task: data.InContextRecall, Length: bc.dims.Context,
				TrainExamples: 256, TestExamples: 8})
			if err != nil {
				b.Fatal(err)
			}
			s, err := newSession(testBackend, genome.MustParse(bc.genome), bc.dims, task, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer s.close()
			cfg := Config{Steps: 1 << 30, BatchSize: bc.batch}.WithDefaults()
			if err := s.withTraining(cfg); err != nil {
				b.Fatal(err)
			}
			if err := s.initialize(bc.batch); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.trainStep(cfg, 0); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if _, _, err := s.trainStep(cfg, i+1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bc.batch*bc.dims.Context*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
