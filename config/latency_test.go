package config

import (
	"strings"
	"testing"
)

func TestLatencyForm(t *testing.T) {
	t.Parallel()
	def := Default()
	if def.Quality.Latency != LatencyThroughput {
		t.Errorf("default latency form %q, want %q", def.Quality.Latency, LatencyThroughput)
	}
	c, err := Parse([]byte("quality: {latency: decode}"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Quality.Latency != LatencyDecode {
		t.Errorf("latency form %q, want decode", c.Quality.Latency)
	}
	if c.Hash() == def.Hash() {
		t.Error("the decode latency form leaves the training hash unchanged")
	}
	tp, err := Parse([]byte("quality: {latency: throughput}"))
	if err != nil {
		t.Fatal(err)
	}
	if tp.Hash() != def.Hash() {
		t.Error("an explicit throughput form changes the training hash")
	}
	if _, err := Parse([]byte("quality: {latency: fast}")); err == nil || !strings.Contains(err.Error(), "quality.latency") {
		t.Errorf("a bad latency form: %v, want an error naming quality.latency", err)
	}
}
