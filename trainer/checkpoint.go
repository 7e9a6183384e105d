package trainer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/internal/atomicfile"
)

// CheckpointFile is the name of the checkpoint inside a checkpoint
// directory.
const CheckpointFile = "checkpoint.star"

// ErrNoCheckpoint is returned when a checkpoint directory holds no
// checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint")

// The file starts with checkpointMagic, then the length of the JSON header
// as a little-endian uint64, the header, and the raw little-endian bytes of
// every variable in header order.
const (
	checkpointMagic   = "STARCKP1"
	checkpointVersion = 1
)

// Recipe is the part of a Config a checkpoint must match to be resumed.
type Recipe struct {
	Steps          int     `json:"steps"`
	BatchSize      int     `json:"batch_size"`
	LearningRate   float64 `json:"learning_rate"`
	MinLRFraction  float64 `json:"min_lr_fraction"`
	WarmupFraction float64 `json:"warmup_fraction"`
	Beta1          float64 `json:"beta1"`
	Beta2          float64 `json:"beta2"`
	Epsilon        float64 `json:"epsilon"`
	WeightDecay    float64 `json:"weight_decay"`
	GradClip       float64 `json:"grad_clip"`
	Seed           uint64  `json:"seed"`
	// Precision is "" for FP32 (so float32 checkpoints read as before) and
	// "bf16" for mixed precision; Evaluate uses it too.
	Precision Precision `json:"precision,omitempty"`
}

func recipeOf(c Config) Recipe {
	r := Recipe{Steps: c.Steps, BatchSize: c.BatchSize, LearningRate: c.LearningRate,
		MinLRFraction: c.MinLRFraction, WarmupFraction: c.WarmupFraction, Beta1: c.Beta1, Beta2: c.Beta2,
		Epsilon: c.Epsilon, WeightDecay: c.WeightDecay, GradClip: c.GradClip, Seed: c.Seed}
	if c.Precision != FP32 {
		r.Precision = c.Precision
	}
	return r
}

// Checkpoint is the header of a checkpoint: what was trained, how, and how
// far.
type Checkpoint struct {
	Version      int         `json:"version"`
	Step         int         `json:"step"` // steps completed
	Genome       string      `json:"genome"`
	Dims         arch.Config `json:"dims"` // as built (ModelDims)
	Task         string      `json:"task"`
	Recipe       Recipe      `json:"recipe"`
	Losses       []float64   `json:"losses"` // loss of every completed step
	TrainSeconds float64     `json:"train_seconds"`
	CRC32        uint32      `json:"crc32"` // of the variable bytes
	Variables    []savedVar  `json:"variables"`
}

type savedVar struct {
	Path      string `json:"path"`
	DType     string `json:"dtype"`
	Dims      []int  `json:"dims"`
	Trainable bool   `json:"trainable"`
	Bytes     int64  `json:"bytes"`
}

// Finished reports whether the checkpoint holds the end of its run.
func (c *Checkpoint) Finished() bool { return c.Step >= c.Recipe.Steps }

// saveCheckpoint writes every variable of the session's store with hdr into
// dir, through a temporary file renamed over CheckpointFile.
func (s *session) saveCheckpoint(dir string, hdr Checkpoint) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating checkpoint directory: %w", err)
	}
	var payload bytes.Buffer
	hdr.Version = checkpointVersion
	hdr.Variables = nil
	for v := range s.store.IterVariables() {
		t, err := v.Value()
		if err != nil {
			return "", fmt.Errorf("reading variable %s: %w", v.Path(), err)
		}
		var n int
		if err := t.ConstBytes(func(b []byte) { n, _ = payload.Write(b) }); err != nil {
			return "", fmt.Errorf("reading variable %s: %w", v.Path(), err)
		}
		sh := v.Shape()
		hdr.Variables = append(hdr.Variables, savedVar{Path: v.Path(), DType: sh.DType.String(),
			Dims: append([]int{}, sh.Dimensions...), Trainable: v.Trainable, Bytes: int64(n)})
	}
	hdr.CRC32 = crc32.ChecksumIEEE(payload.Bytes())
	head, err := json.Marshal(hdr)
	if err != nil {
		return "", fmt.Errorf("encoding checkpoint header: %w", err)
	}
	path := filepath.Join(dir, CheckpointFile)
	err = atomicfile.Write(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, checkpointMagic); err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, uint64(len(head))); err != nil {
			return err
		}
		if _, err := w.Write(head); err != nil {
			return err
		}
		_, err := w.Write(payload.Bytes())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("writing checkpoint: %w", err)
	}
	return path, nil
}

// Variable is one variable of a checkpoint: its scope path in the
// trainer's store (the model's weights are under "/model/", named as
// docs/architecture.md says), its shape and its raw little-endian bytes.
type Variable struct {
	Path      string
	DType     string // GoMLX's name: "Float32", "Uint64", ...
	Dims      []int
	Trainable bool
	Data      []byte
}

// ReadCheckpointVariables reads the checkpoint in dir with every variable's
// value, in the order the checkpoint stores them. The error wraps
// ErrNoCheckpoint when there is none.
func ReadCheckpointVariables(dir string) (*Checkpoint, []Variable, error) {
	hdr, payload, err := readCheckpoint(dir, true)
	if err != nil {
		return nil, nil, err
	}
	vars := make([]Variable, len(hdr.Variables))
	off := int64(0)
	for i, sv := range hdr.Variables {
		vars[i] = Variable{Path: sv.Path, DType: sv.DType, Dims: sv.Dims, Trainable: sv.Trainable,
			Data: payload[off : off+sv.Bytes : off+sv.Bytes]}
		off += sv.Bytes
	}
	return hdr, vars, nil
}

// ReadCheckpoint reads the header of the checkpoint in dir. The error
// wraps ErrNoCheckpoint when there is none.
func ReadCheckpoint(dir string) (*Checkpoint, error) {
	hdr, _, err := readCheckpoint(dir, false)
	return hdr, err
}

func readCheckpoint(dir string, withPayload bool) (*Checkpoint, []byte, error) {
	path := filepath.Join(dir, CheckpointFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w in %s", ErrNoCheckpoint, dir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s is corrupt: %s; delete it to start over", path, fmt.Sprintf(format, args...))
	}
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != checkpointMagic {
		return nil, nil, corrupt("bad magic")
	}
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil || n > 1<<30 {
		return nil, nil, corrupt("bad header length")
	}
	head := make([]byte, n)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, nil, corrupt("short header")
	}
	var hdr Checkpoint
	if err := json.Unmarshal(head, &hdr); err != nil {
		return nil, nil, corrupt("header: %v", err)
	}
	if hdr.Version != checkpointVersion {
		return nil, nil, fmt.Errorf("checkpoint %s has version %d, this build reads %d", path, hdr.Version, checkpointVersion)
	}
	if !withPayload {
		return &hdr, nil, nil
	}
	payload, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	var total int64
	for _, v := range hdr.Variables {
		total += v.Bytes
	}
	if total != int64(len(payload)) || crc32.ChecksumIEEE(payload) != hdr.CRC32 {
		return nil, nil, corrupt("variable data does not match its header")
	}
	return &hdr, payload, nil
}

// restore sets the store's variables to the checkpoint's values, creating
// those that do not exist yet. Call it before any graph runs.
func (s *session) restore(hdr *Checkpoint, payload []byte) error {
	off := int64(0)
	for _, sv := range hdr.Variables {
		dt, err := dtypes.DTypeString(sv.DType)
		if err != nil {
			return fmt.Errorf("checkpoint variable %s: dtype %q: %w", sv.Path, sv.DType, err)
		}
		sh := shapes.Make(dt, sv.Dims...)
		if sh.ByteSize() != sv.Bytes {
			return fmt.Errorf("checkpoint variable %s: %d bytes for shape %s", sv.Path, sv.Bytes, sh)
		}
		t := tensors.FromShape(sh)
		chunk := payload[off : off+sv.Bytes]
		off += sv.Bytes
		if err := t.MutableBytes(func(b []byte) { copy(b, chunk) }); err != nil {
			return fmt.Errorf("checkpoint variable %s: %w", sv.Path, err)
		}
		if v := s.store.GetVariable(sv.Path); v != nil {
			if !v.Shape().Equal(sh) {
				return fmt.Errorf("checkpoint variable %s has shape %s, the model has %s", sv.Path, sh, v.Shape())
			}
			if err := v.SetValue(t); err != nil {
				return fmt.Errorf("restoring %s: %w", sv.Path, err)
			}
			v.Trainable = sv.Trainable
			continue
		}
		v, err := s.store.CreateVariable(sv.Path, t)
		if err != nil {
			return fmt.Errorf("restoring %s: %w", sv.Path, err)
		}
		v.Trainable = sv.Trainable
	}
	return nil
}
