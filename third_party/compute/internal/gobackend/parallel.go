// Splitting an op over the backend's workers (star-pipeline patch, see
// third_party/README.md).

package gobackend

import (
	"sync"
	"sync/atomic"
)

// ParallelChunks calls fn(c) for every chunk c in [0, numChunks), on the
// calling goroutine and on helpers started only where the pool has a
// worker free at once (StartIfAvailable). The caller waits for the chunks,
// not for the helpers: many small ops run concurrently in a training step,
// and a helper the scheduler starts late finds no chunk left and touches
// nothing. Chunks are the caller's fixed ranges, so what each computes does
// not depend on which goroutine takes it.
func ParallelChunks(backend *Backend, numChunks int, fn func(c int)) {
	workers := 1
	if backend != nil && backend.Workers != nil && backend.Workers.IsEnabled() {
		workers = backend.Workers.AdjustedMaxParallelism()
	}
	if numChunks <= 1 || workers <= 1 {
		for c := range numChunks {
			fn(c)
		}
		return
	}
	var next atomic.Int64
	var pending sync.WaitGroup
	pending.Add(numChunks)
	work := func() {
		for {
			c := int(next.Add(1)) - 1
			if c >= numChunks {
				return
			}
			fn(c)
			pending.Done()
		}
	}
	for range min(workers, numChunks) - 1 {
		if !backend.Workers.StartIfAvailable(work) {
			break
		}
	}
	work()
	pending.Wait()
}
