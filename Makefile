# star-pipeline: build, test, demo.
GO ?= go
# GoMLX's pure-Go backend runs about twice as fast with Go's SIMD experiment.
export GOEXPERIMENT ?= simd
BIN := bin/star-pipeline

.PHONY: build build-xla test test-short demo bench clean

build:
	$(GO) build -o $(BIN) ./cmd/star-pipeline

# The GPU build: cgo and the XLA PJRT backend (see README, "GPU").
build-xla:
	CGO_ENABLED=1 $(GO) build -tags xla -o bin/star-pipeline-xla ./cmd/star-pipeline

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 75m ./...

test-short:
	$(GO) test -count=1 -short ./...

# A small real search: 8 candidates x 4 generations, each trained by the
# GoMLX trainer on MAD in-context recall, ending with the Pareto set.
demo: build
	$(BIN) submit --config examples/demo.yaml --db demo.db

bench: build
	$(BIN) bench zdt --problem zdt1 --algorithm nsga2 --pop 100 --generations 200 --seed 1
	$(BIN) bench pipeline
	$(BIN) bench trainer

clean:
	rm -rf bin demo.db demo.db-wal demo.db-shm demo-artifacts
