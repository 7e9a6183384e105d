# star-pipeline: build, test, demo.
GO ?= go
export GOEXPERIMENT ?= simd
BIN := bin/star-pipeline

.PHONY: build test test-short demo bench clean

build:
	$(GO) build -o $(BIN) ./cmd/star-pipeline

test:
	$(GO) test -count=1 -timeout 60m ./...

test-short:
	$(GO) test -count=1 -short ./...

bench: build
	$(BIN) bench zdt --problem zdt1 --algorithm nsga2 --pop 100 --generations 200 --seed 1

demo: build
	$(BIN) bench zdt --problem zdt1 --algorithm nsga2 --pop 100 --generations 200 --seed 1

clean:
	rm -rf bin
