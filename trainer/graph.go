package trainer

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/model"
)

// Scopes of the store.
const (
	modelScope   = "/model"
	decoderScope = "/decoder"
	momentScope  = "/optimizer"
)

// session holds one model, its variables and the graphs that train and
// evaluate it on one task.
type session struct {
	backend compute.Backend
	store   *mlmodel.Store
	model   *model.Model
	task    data.Task
	genome  genome.Genome
	dims    arch.Config
	recon   bool

	// recipe constants baked into the training graph
	beta1, beta2, eps, wd, clip float64

	trainExec, evalExec, fwdExec *mlmodel.Exec
}

// ModelDims returns the dimensions the trainer builds g at for task: dims
// with defaults, Context set to the task's sequence length and Vocab to the
// task's vocabulary (for a reconstruction task, at least the width, so the
// last position's output keeps the whole hidden state for the decoder).
func ModelDims(dims arch.Config, task data.Task) arch.Config {
	dims = dims.WithDefaults()
	dims.Context = task.SeqLen()
	dims.Vocab = task.Vocab()
	if task.Reconstruct() {
		dims.Vocab = max(dims.Vocab, dims.Width)
	}
	return dims
}

func newSession(backend compute.Backend, g genome.Genome, dims arch.Config, task data.Task, seed uint64) (*session, error) {
	dims = ModelDims(dims, task)
	if err := dims.Validate(); err != nil {
		return nil, fmt.Errorf("%w: model dimensions: %w", ErrInvalid, err)
	}
	m, err := model.New(g, dims)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	s := &session{backend: backend, store: mlmodel.NewStore(), model: m, task: task,
		genome: g.Clone(), dims: dims, recon: task.Reconstruct()}
	if err := s.store.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, fmt.Errorf("seeding initial weights: %w", err)
	}
	s.evalExec, err = mlmodel.NewExec(backend, s.store, s.evalGraph)
	if err != nil {
		return nil, fmt.Errorf("building evaluation graph: %w", err)
	}
	s.fwdExec, err = mlmodel.NewExec(backend, s.store, s.forwardGraph)
	if err != nil {
		return nil, fmt.Errorf("building forward graph: %w", err)
	}
	return s, nil
}

// withTraining adds the training graph with the recipe's constants.
func (s *session) withTraining(cfg Config) error {
	s.beta1, s.beta2, s.eps, s.wd, s.clip = cfg.Beta1, cfg.Beta2, cfg.Epsilon, cfg.WeightDecay, cfg.GradClip
	var err error
	s.trainExec, err = mlmodel.NewExec(s.backend, s.store, s.trainGraph)
	if err != nil {
		return fmt.Errorf("building training graph: %w", err)
	}
	return nil
}

func (s *session) close() {
	for _, e := range []*mlmodel.Exec{s.trainExec, s.evalExec, s.fwdExec} {
		if e != nil {
			e.Finalize()
		}
	}
	s.store.Finalize()
}

// outputs builds the model and, for reconstruction tasks, the decoder:
// logits [B, L, V] over the task vocabulary, and the auxiliary loss.
func (s *session) outputs(scope *mlmodel.Scope, tokens *Node) (logits, aux *Node) {
	logits, aux = s.model.Forward(scope.In("model"), tokens)
	if s.recon {
		logits = s.decode(logits)
	}
	return logits, aux
}

// decode rebuilds a sequence from the model's output at the last position
// alone: z = out[:, L-1, :]; logits_p = silu(z·W1 + pos_p)·W2 + b2 for every
// position p. The decoder is trained with the model; its weights are not
// counted in Params.
func (s *session) decode(out *Node) *Node {
	g := out.Graph()
	dims := out.Shape().Dimensions
	b, l, vm := dims[0], dims[1], dims[2]
	h, v := s.dims.Width, s.task.Vocab()
	dt := out.DType()
	param := func(name string, std float64, d ...int) *Node {
		store := s.store
		variable := store.VariableWithShape(decoderScope+"/"+name, shapes.Make(dt, d...),
			func(g *Graph, sh shapes.Shape) *Node {
				if std == 0 {
					return Zeros(g, sh)
				}
				return MulScalar(store.RandomNormal(g, sh), std)
			})
		return variable.NodeValue(g)
	}
	z := Reshape(SliceAxis(out, 1, AxisRange(l-1, l)), b, vm)
	w1 := param("w1", 1/math.Sqrt(float64(vm)), vm, h)
	pos := param("pos", 1, l, h)
	w2 := param("w2", 1/math.Sqrt(float64(h)), h, v)
	b2 := param("b2", 0, v)
	hid := Add(InsertAxes(MatMul(z, w1), 1), InsertAxes(pos, 0)) // [B, L, H]
	hid = Mul(hid, Sigmoid(hid))
	y := MatMul(Reshape(hid, b*l, h), w2)
	y = Add(y, InsertAxes(b2, 0))
	return Reshape(y, b, l, v)
}

// scores returns the summed cross-entropy over scored targets, the number
// of scored targets and the number predicted correctly (argmax), as
// float32 scalars. Targets equal to data.Ignore are not scored.
func scores(logits, targets *Node) (sumNLL, count, correct *Node) {
	v := logits.Shape().Dimensions[logits.Rank()-1]
	dt := logits.DType()
	ignore := ConstAsDType(targets.Graph(), targets.DType(), data.Ignore)
	mask := NotEqual(targets, ignore)
	safe := Where(mask, targets, ZerosLike(targets))
	maskF := ConvertDType(mask, dt)
	logp := LogSoftmax(logits, -1)
	nll := Neg(ReduceSum(Mul(logp, OneHot(safe, v, dt)), -1))
	sumNLL = ReduceAllSum(Mul(nll, maskF))
	count = ReduceAllSum(maskF)
	pred := ArgMax(logits, -1, targets.DType())
	correct = ReduceAllSum(Mul(ConvertDType(Equal(pred, targets), dt), maskF))
	return
}

func (s *session) evalGraph(scope *mlmodel.Scope, tokens, targets *Node) (sumNLL, count, correct *Node) {
	logits, _ := s.outputs(scope, tokens)
	return scores(logits, targets)
}

func (s *session) forwardGraph(scope *mlmodel.Scope, tokens *Node) *Node {
	logits, _ := s.outputs(scope, tokens)
	return logits
}

// trainable returns the trainable variables of the model and the decoder
// that g uses, sorted by path so that the order of every reduction over
// them does not depend on the order the store created them in.
func (s *session) trainable(g *Graph) []*mlmodel.Variable {
	var vars []*mlmodel.Variable
	for v := range s.store.IterVariables() {
		p := v.Path()
		if v.Trainable && v.InUseByGraph(g) && (strings.HasPrefix(p, modelScope+"/") || strings.HasPrefix(p, decoderScope+"/")) {
			vars = append(vars, v)
		}
	}
	slices.SortFunc(vars, func(a, b *mlmodel.Variable) int { return strings.Compare(a.Path(), b.Path()) })
	return vars
}

// trainGraph builds one AdamW step. Inputs: tokens and targets [B, L],
// the step's learning rate and the bias corrections 1-beta1^t and
// 1-beta2^t. Outputs: the loss (cross-entropy plus auxiliary), the
// cross-entropy and the global gradient norm before clipping.
func (s *session) trainGraph(scope *mlmodel.Scope, tokens, targets, lr, bc1, bc2 *Node) (loss, ce, gnorm *Node) {
	g := tokens.Graph()
	logits, aux := s.outputs(scope, tokens)
	sumNLL, count, _ := scores(logits, targets)
	ce = Div(sumNLL, MaxScalar(count, 1))
	loss = Add(ce, ConvertDType(aux, ce.DType()))

	vars := s.trainable(g)
	nodes := make([]*Node, len(vars))
	for i, v := range vars {
		nodes[i] = v.NodeValue(g)
	}
	grads := Gradient(loss, nodes...)
	dt := loss.DType()
	sq := ScalarZero(g, dt)
	for _, gr := range grads {
		sq = Add(sq, ConvertDType(ReduceAllSum(Square(gr)), dt))
	}
	gnorm = Sqrt(sq)
	scale := ScalarOne(g, dt)
	if s.clip > 0 {
		c := Scalar(g, dt, s.clip)
		scale = Div(c, Max(gnorm, c))
	}
	for i, v := range vars {
		s.adamW(v, nodes[i], grads[i], scale, lr, bc1, bc2)
	}
	return loss, ce, gnorm
}

// adamW applies one decoupled-weight-decay Adam update to v:
// p <- p - lr*(m/bc1)/(sqrt(v/bc2)+eps) - lr*wd*p, the decay only for
// variables of rank >= 2.
func (s *session) adamW(v *mlmodel.Variable, p, grad, scale, lr, bc1, bc2 *Node) {
	g := p.Graph()
	dt := p.DType()
	conv := func(x *Node) *Node {
		if x.DType() != dt {
			return ConvertDType(x, dt)
		}
		return x
	}
	grad = Mul(conv(grad), conv(scale))
	lr, bc1, bc2 = conv(lr), conv(bc1), conv(bc2)
	mVar := s.moment("m", v)
	vVar := s.moment("v", v)
	m := Add(MulScalar(mVar.NodeValue(g), s.beta1), MulScalar(grad, 1-s.beta1))
	sq := Add(MulScalar(vVar.NodeValue(g), s.beta2), MulScalar(Square(grad), 1-s.beta2))
	mVar.SetNodeValue(m)
	vVar.SetNodeValue(sq)
	step := Div(Div(m, bc1), AddScalar(Sqrt(Div(sq, bc2)), s.eps))
	if s.wd > 0 && p.Rank() >= 2 {
		step = Add(step, MulScalar(p, s.wd))
	}
	v.SetNodeValue(Sub(p, Mul(lr, step)))
}

// moment returns AdamW's moment variable kind ("m" or "v") of v,
// zero-initialised.
func (s *session) moment(kind string, v *mlmodel.Variable) *mlmodel.Variable {
	path := momentScope + "/" + kind + v.Path()
	shape := v.Shape()
	return s.store.VariableWithShape(path, shape, func(g *Graph, sh shapes.Shape) *Node {
		return Zeros(g, sh)
	}).SetTrainable(false)
}

// batchTensors returns the batch's inputs and targets as [Size, Length]
// int32 tensors.
func batchTensors(b data.Batch) (inputs, targets *tensors.Tensor) {
	return tensors.FromFlatDataAndDimensions(b.Inputs, b.Size, b.Length),
		tensors.FromFlatDataAndDimensions(b.Targets, b.Size, b.Length)
}
