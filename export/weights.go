package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/internal/atomicfile"
	"github.com/star-pipeline/star-pipeline/safetensors"
	"github.com/star-pipeline/star-pipeline/trainer"
)

// ModelScope is the trainer's scope of the model's weights: a checkpoint
// variable "/model/slot_0/q" is the weight docs/architecture.md calls
// "slot_0/q". Everything else in a checkpoint (the optimizer's moments, the
// random state) is training state and is not exported.
const ModelScope = "/model/"

// Metadata keys of an exported weights file (all values are strings, as
// the format requires).
const (
	MetaFormat    = "format"    // always "star-pipeline"
	MetaGenome    = "genome"    // canonical genome text
	MetaDims      = "dims"      // arch.Config as JSON, the dims the weights were built at
	MetaTask      = "task"      // the task trained on, e.g. "mad:in-context-recall"
	MetaSteps     = "steps"     // training steps completed
	MetaPrecision = "precision" // "fp32" or "bf16": how it was trained (weights are float32 either way)
	MetaCandidate = "candidate" // candidate id, when exported from a run
	MetaJob       = "job"       // the candidate's training job, when exported from a run
)

// safetensorsDType maps the trainer's dtype names onto the format's.
var safetensorsDType = map[string]safetensors.DType{
	"Bool": safetensors.Bool, "Int8": safetensors.I8, "Int16": safetensors.I16, "Int32": safetensors.I32,
	"Int64": safetensors.I64, "Uint8": safetensors.U8, "Uint16": safetensors.U16, "Uint32": safetensors.U32,
	"Uint64": safetensors.U64, "Float16": safetensors.F16, "Float32": safetensors.F32, "Float64": safetensors.F64,
	"BFloat16": safetensors.BF16,
}

// Weights reads the checkpoint in dir and returns the model's weights as a
// safetensors file: one tensor per variable under ModelScope, named as
// docs/architecture.md names it, in the checkpoint's order, with the
// genome, dims, task, steps and precision as metadata.
func Weights(dir string) (safetensors.File, error) {
	hdr, vars, err := trainer.ReadCheckpointVariables(dir)
	if err != nil {
		return safetensors.File{}, err
	}
	dims, err := json.Marshal(hdr.Dims)
	if err != nil {
		return safetensors.File{}, fmt.Errorf("encoding the dims of %s: %w", dir, err)
	}
	f := safetensors.File{Metadata: map[string]string{
		MetaFormat: "star-pipeline", MetaGenome: hdr.Genome, MetaDims: string(dims), MetaTask: hdr.Task,
		MetaSteps: strconv.Itoa(hdr.Step), MetaPrecision: precisionOf(hdr),
	}}
	for _, v := range vars {
		name, ok := strings.CutPrefix(v.Path, ModelScope)
		if !ok {
			continue
		}
		dt, ok := safetensorsDType[v.DType]
		if !ok {
			return safetensors.File{}, fmt.Errorf("checkpoint %s: variable %s has dtype %s, which safetensors cannot hold", dir, v.Path, v.DType)
		}
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: name, DType: dt, Shape: v.Dims, Data: v.Data})
	}
	if len(f.Tensors) == 0 {
		return f, fmt.Errorf("checkpoint %s holds no model weights (no variable under %s)", dir, ModelScope)
	}
	return f, nil
}

// JobDirs lists the checkpoint directories of a candidate whose training
// went to root: root itself when it holds a checkpoint, else each
// subdirectory that does (one per training job, named after it), sorted.
func JobDirs(root string) ([]string, error) {
	if root == "" {
		return nil, errors.New("the candidate has no checkpoint (it was not trained, or failed before its first checkpoint)")
	}
	if hasCheckpoint(root) {
		return []string{root}, nil
	}
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint directory %s does not exist here; run export on a machine that reaches "+
			"the workers' checkpoint directory, or copy it and use --checkpoint DIR", root)
	}
	if err != nil {
		return nil, fmt.Errorf("listing checkpoints: %w", err)
	}
	var dirs []string
	for _, e := range ents {
		if d := filepath.Join(root, e.Name()); e.IsDir() && hasCheckpoint(d) {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no trained checkpoint in %s (a static benchmark run trains no weights)", root)
	}
	slices.Sort(dirs)
	return dirs, nil
}

func hasCheckpoint(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, trainer.CheckpointFile))
	return err == nil && st.Mode().IsRegular()
}

// CandidateWeights returns the weights of cand's training job job ("" when
// it has one job) from the checkpoints under root (cand.Checkpoint when
// root is ""), with the candidate's id and the job in the metadata.
func CandidateWeights(cand Candidate, root, job string) (safetensors.File, error) {
	if root == "" {
		root = cand.Checkpoint
	}
	dirs, err := JobDirs(root)
	if err != nil {
		return safetensors.File{}, fmt.Errorf("candidate %s: %w", cand.ID, err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(d))
	}
	dir := ""
	switch {
	case job != "":
		if i := slices.Index(names, job); i >= 0 {
			dir = dirs[i]
		} else {
			return safetensors.File{}, fmt.Errorf("candidate %s has no training job %q; its jobs: %s", cand.ID, job, strings.Join(names, ", "))
		}
	case len(dirs) == 1:
		dir = dirs[0]
	default:
		return safetensors.File{}, fmt.Errorf("candidate %s trained %d models, one per job; pick one with --job (%s)",
			cand.ID, len(dirs), strings.Join(names, ", "))
	}
	f, err := Weights(dir)
	if err != nil {
		return f, err
	}
	if f.Metadata[MetaGenome] != cand.Genome {
		return f, fmt.Errorf("checkpoint %s holds genome %s, candidate %s has %s", dir, f.Metadata[MetaGenome], cand.ID, cand.Genome)
	}
	f.Metadata[MetaCandidate] = cand.ID
	if dir != root {
		f.Metadata[MetaJob] = filepath.Base(dir)
	}
	return f, nil
}

// WriteWeights writes f to path as a safetensors file, atomically.
func WriteWeights(path string, f safetensors.File) error {
	return atomicfile.Write(path, func(w io.Writer) error { return safetensors.Write(w, f) })
}

// WeightsFile describes a weights file export wrote.
type WeightsFile struct {
	Path    string `json:"path"`
	Job     string `json:"job,omitempty"` // the training job, for a candidate trained on several
	Tensors int    `json:"tensors"`
	Params  int64  `json:"params"` // values over every tensor
	Bytes   int64  `json:"bytes"`  // the file's size
}

// SaveWeights writes f to path and describes what it wrote.
func SaveWeights(path string, f safetensors.File) (WeightsFile, error) {
	if err := WriteWeights(path, f); err != nil {
		return WeightsFile{}, err
	}
	wf := WeightsFile{Path: path, Job: f.Metadata[MetaJob], Tensors: len(f.Tensors)}
	for _, t := range f.Tensors {
		wf.Params += int64(t.Elements())
	}
	if st, err := os.Stat(path); err == nil {
		wf.Bytes = st.Size()
	}
	return wf, nil
}

// Checkpoint is the export of a checkpoint directory on its own, without
// the run it came from: what the weights file's metadata says, as JSON.
type Checkpoint struct {
	Checkpoint string        `json:"checkpoint"`
	Genome     string        `json:"genome"`
	Slots      []genome.Slot `json:"slots"`
	Dims       arch.Config   `json:"dims"` // as the model was built (the task's vocabulary)
	Task       string        `json:"task"`
	Steps      int           `json:"steps"`
	Precision  string        `json:"precision"`
	Weights    *WeightsFile  `json:"weights,omitempty"`
}

// DescribeCheckpoint reads the header of the checkpoint in dir.
func DescribeCheckpoint(dir string) (Checkpoint, error) {
	hdr, err := trainer.ReadCheckpoint(dir)
	if err != nil {
		return Checkpoint{}, err
	}
	g, err := genome.Parse(hdr.Genome)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: parsing its genome: %w", dir, err)
	}
	return Checkpoint{Checkpoint: dir, Genome: genome.Format(g), Slots: g, Dims: hdr.Dims, Task: hdr.Task,
		Steps: hdr.Step, Precision: precisionOf(hdr)}, nil
}

// precisionOf names the precision a checkpoint was trained at.
func precisionOf(hdr *trainer.Checkpoint) string {
	if hdr.Recipe.Precision == "" {
		return string(trainer.FP32)
	}
	return string(hdr.Recipe.Precision)
}
