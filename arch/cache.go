package arch

import (
	"github.com/star-pipeline/star-pipeline/genome"
)

// CacheBytes returns the inference cache of the model at context
// cfg.Context in bytes of cfg.DType (docs/architecture.md, "Inference
// cache"): the sum of SlotCacheBytes.
func CacheBytes(g genome.Genome, cfg Config) (int64, error) {
	per, err := SlotCacheBytes(g, cfg)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, b := range per {
		n += b
	}
	return n, nil
}

// SlotCacheBytes returns the inference cache of each slot in bytes.
func SlotCacheBytes(g genome.Genome, cfg Config) ([]int64, error) {
	m, err := build(g, cfg)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(g))
	for i := range g {
		out[i] = m.cacheValues(i) * int64(m.cfg.DTypeBytes())
	}
	return out, nil
}

// cacheValues returns the number of values slot i caches for decoding.
func (m *model) cacheValues(i int) int64 {
	c, w := m.classes[i], m.wiring[i]
	halves := int64(1)
	if c.IsDiff() {
		halves = 2
	}
	b := c.Base()
	d, l, k := int64(m.cfg.Width), int64(m.cfg.Context), int64(m.cfg.ShortKernel)
	ownB, ownC := w.BSource == i, w.CSource == i
	var v int64
	switch b.Family {
	case genome.Attention:
		dkv := d / int64(b.KVRepeat)
		v = dkv * l // values
		if ownB {
			v += dkv * l // keys
		}
		if b.QKVConv {
			ch := dkv // the value conv
			if ownB {
				ch += dkv
			}
			if ownC {
				ch += d
			}
			v += (k - 1) * ch
		}
	case genome.Recurrence:
		v = d * int64(b.StateExpansion)
	case genome.Convolution:
		if b.LongConv {
			v = d * (l - 1)
		} else {
			v = d * (k - 1)
		}
	}
	return halves * v
}
