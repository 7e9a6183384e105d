package data

import "math/rand/v2"

// Ignore marks a target position that is not scored: no loss, no accuracy.
const Ignore = -100

// Batch is a batch of equally long sequences, row-major: row r, position p
// is at index r*Length+p. Targets[i] is the token the model should predict
// at position i (for language modelling, the next input token), or Ignore.
type Batch struct {
	Size    int     // number of sequences
	Length  int     // tokens per sequence
	Inputs  []int32 // [Size*Length] input tokens
	Targets []int32 // [Size*Length] target tokens or Ignore
}

// Scored returns the number of targets that are not Ignore.
func (b Batch) Scored() int {
	n := 0
	for _, t := range b.Targets {
		if t != Ignore {
			n++
		}
	}
	return n
}

// newBatch allocates a batch of size rows of length tokens.
func newBatch(size, length int) Batch {
	return Batch{Size: size, Length: length,
		Inputs: make([]int32, size*length), Targets: make([]int32, size*length)}
}

// batchesOf groups n rows into batches of size rows. fill(b, r, i) writes
// row i of the source into row r of batch b. The last batch is completed
// with copies of its first row whose targets are all Ignore, so every batch
// has the same shape and the padding does not count.
func batchesOf(n, size, length int, fill func(b Batch, r, i int)) []Batch {
	var out []Batch
	for start := 0; start < n; start += size {
		b := newBatch(size, length)
		rows := min(size, n-start)
		for r := range rows {
			fill(b, r, start+r)
		}
		for r := rows; r < size; r++ {
			copy(b.Inputs[r*length:(r+1)*length], b.Inputs[:length])
			for p := range length {
				b.Targets[r*length+p] = Ignore
			}
		}
		out = append(out, b)
	}
	return out
}

// splitmix64 is one step of the SplitMix64 generator: a bijective mixer
// that turns nearby integers into unrelated ones.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// newRand returns a generator that is a pure function of seed and the
// stream ids (purpose, step, example index...).
func newRand(seed uint64, stream ...uint64) *rand.Rand {
	a, b := splitmix64(seed), splitmix64(^seed)
	for _, s := range stream {
		a = splitmix64(a ^ s)
		b = splitmix64(b + s)
	}
	return rand.New(rand.NewPCG(a, b))
}
