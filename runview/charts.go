package runview

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/storage"
)

// Generation is the axis name of a candidate's generation. It may be used as
// either axis of Pareto, next to the run's objectives.
const Generation = "generation"

// ErrUnknownAxis: an axis names neither one of the run's objectives nor
// Generation.
var ErrUnknownAxis = errors.New("unknown objective")

// Point is one evaluated candidate on a Pareto chart.
type Point struct {
	Candidate  string  `json:"candidate"`
	Generation int     `json:"generation"`
	Genome     string  `json:"genome"`
	Operator   string  `json:"operator"`
	X          float64 `json:"x"`
	Y          float64 `json:"y"`
	// Front marks the points that no other point dominates on (X, Y).
	// Of several candidates with the same genome only the oldest is
	// marked; the others have Copy set.
	Front bool `json:"front,omitempty"`
	// Copy marks a later candidate of a genome evaluated before in the run.
	Copy bool `json:"copy,omitempty"`
	// Seed marks the seed genomes of the run's configuration.
	Seed bool `json:"seed,omitempty"`
}

// ParetoData is every evaluated candidate of a run on two axes.
type ParetoData struct {
	Run    string  `json:"run"`
	X      string  `json:"x"`
	Y      string  `json:"y"`
	Points []Point `json:"points"` // by generation, then index
}

// Front returns the front points ordered by X, then Y: the order that draws
// the front as a staircase.
func (d ParetoData) Front() []Point {
	var f []Point
	for _, p := range d.Points {
		if p.Front {
			f = append(f, p)
		}
	}
	slices.SortStableFunc(f, func(a, b Point) int {
		return cmp.Or(cmp.Compare(a.X, b.X), cmp.Compare(a.Y, b.Y))
	})
	return f
}

// Axes returns the axis names Pareto accepts for a run: its objectives, then
// Generation.
func Axes(r storage.Run) []string {
	return append(Objectives(r), Generation)
}

// DefaultAxes returns the axes a chart of r shows when none are asked for:
// its first two objectives, or Generation against its only objective.
func DefaultAxes(r storage.Run) (x, y string) {
	objs := Objectives(r)
	if len(objs) < 2 {
		return Generation, objs[0]
	}
	return objs[0], objs[1]
}

// Pareto returns every evaluated candidate of a run on axes x and y, with the
// front on those two axes marked. It fails with storage.ErrNotFound for an
// unknown run and ErrUnknownAxis for an axis the run does not have.
func Pareto(ctx context.Context, src Source, runID, x, y string) (ParetoData, error) {
	r, err := src.GetRun(ctx, runID)
	if err != nil {
		return ParetoData{}, err
	}
	axes := Axes(r)
	for _, a := range []string{x, y} {
		if !slices.Contains(axes, a) {
			return ParetoData{}, fmt.Errorf("%w %q: run %s has %v", ErrUnknownAxis, a, runID, axes)
		}
	}
	cands, err := src.ListCandidates(ctx, runID, -1)
	if err != nil {
		return ParetoData{}, err
	}
	d := ParetoData{Run: runID, X: x, Y: y, Points: []Point{}}
	seen := map[string]bool{}
	var unique []int // indices into d.Points of first copies
	for _, c := range cands {
		vx, okx := axisValue(c, x)
		vy, oky := axisValue(c, y)
		if c.Status != storage.CandEvaluated || !okx || !oky || c.Operator == storage.OpFinal {
			continue // final-stage retrainings are scored at another budget: see study
		}
		key := genomeKey(c)
		p := Point{Candidate: c.ID, Generation: c.Generation, Genome: c.Genome, Operator: string(c.Operator),
			X: vx, Y: vy, Seed: c.Operator == storage.OpSeed, Copy: seen[key]}
		if !p.Copy {
			seen[key] = true
			unique = append(unique, len(d.Points))
		}
		d.Points = append(d.Points, p)
	}
	for _, i := range unique {
		pi := []float64{d.Points[i].X, d.Points[i].Y}
		dominated := false
		for _, j := range unique {
			if j != i && evolve.Dominates([]float64{d.Points[j].X, d.Points[j].Y}, pi) {
				dominated = true
				break
			}
		}
		d.Points[i].Front = !dominated
	}
	return d, nil
}

// axisValue returns a candidate's value on an axis, and whether it has one.
func axisValue(c storage.Candidate, axis string) (float64, bool) {
	if axis == Generation {
		return float64(c.Generation), true
	}
	v, ok := c.Objectives[axis]
	return v, ok
}

// genomeKey identifies a candidate's architecture: its genome hash, or its
// text when no hash was stored.
func genomeKey(c storage.Candidate) string {
	if c.GenomeHash != "" {
		return "h:" + c.GenomeHash
	}
	return "g:" + c.Genome
}

// HypervolumePoint is the hypervolume a generation's selection reached.
type HypervolumePoint struct {
	Generation  int     `json:"generation"`
	Hypervolume float64 `json:"hypervolume"`
}

// Hypervolume returns the hypervolume of every generation that has one,
// in generation order. It fails with storage.ErrNotFound for an unknown run.
func Hypervolume(ctx context.Context, src Source, runID string) ([]HypervolumePoint, error) {
	if _, err := src.GetRun(ctx, runID); err != nil {
		return nil, err
	}
	gens, err := src.ListGenerations(ctx, runID)
	if err != nil {
		return nil, err
	}
	hv := []HypervolumePoint{}
	for _, g := range gens {
		if g.Hypervolume != nil {
			hv = append(hv, HypervolumePoint{Generation: g.Index, Hypervolume: *g.Hypervolume})
		}
	}
	return hv, nil
}

// ClassInfo names a LIV class.
type ClassInfo struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Family string `json:"family"`
}

// ClassCount is how many slots of a generation's population, and of its
// front, hold one LIV class.
type ClassCount struct {
	Class      int `json:"class"`
	Population int `json:"population"`
	Front      int `json:"front"`
}

// GenerationClasses is the class make-up of one generation.
type GenerationClasses struct {
	Generation int `json:"generation"`
	// Members and FrontMembers count genomes; PopulationSlots and
	// FrontSlots count their slots, the denominators of the shares.
	Members         int          `json:"members"`
	FrontMembers    int          `json:"front_members"`
	PopulationSlots int          `json:"population_slots"`
	FrontSlots      int          `json:"front_slots"`
	Counts          []ClassCount `json:"counts"` // classes present, by id
}

// PopulationShare returns the fraction of population slots holding class id.
func (g GenerationClasses) PopulationShare(id int) float64 {
	for _, c := range g.Counts {
		if c.Class == id && g.PopulationSlots > 0 {
			return float64(c.Population) / float64(g.PopulationSlots)
		}
	}
	return 0
}

// FrontShare returns the fraction of front slots holding class id.
func (g GenerationClasses) FrontShare(id int) float64 {
	for _, c := range g.Counts {
		if c.Class == id && g.FrontSlots > 0 {
			return float64(c.Front) / float64(g.FrontSlots)
		}
	}
	return 0
}

// ClassData is the class make-up of every generation of a run.
type ClassData struct {
	Run         string              `json:"run"`
	Classes     []ClassInfo         `json:"classes"` // every class seen in the run, by id
	Generations []GenerationClasses `json:"generations"`
}

// Classes counts, per generation, the LIV classes of the population's slots
// and of its front's slots. A generation's population is its selection when
// one is recorded, and otherwise the candidates created in it. Its front is
// the population's evaluated members that no other member dominates on all
// of the run's objectives (one per genome). It fails with storage.ErrNotFound
// for an unknown run.
func Classes(ctx context.Context, src Source, runID string) (ClassData, error) {
	r, err := src.GetRun(ctx, runID)
	if err != nil {
		return ClassData{}, err
	}
	objs := Objectives(r)
	cands, err := src.ListCandidates(ctx, runID, -1)
	if err != nil {
		return ClassData{}, err
	}
	gens, err := src.ListGenerations(ctx, runID)
	if err != nil {
		return ClassData{}, err
	}
	d := ClassData{Run: runID, Classes: []ClassInfo{}, Generations: []GenerationClasses{}}
	seen := map[int]bool{}
	indices, pops := generationPopulations(cands, gens)
	for _, gi := range indices {
		gc := tallyClasses(gi, pops[gi], Front(pops[gi], objs))
		for _, cc := range gc.Counts {
			seen[cc.Class] = true
		}
		d.Generations = append(d.Generations, gc)
	}
	for id := range seen {
		d.Classes = append(d.Classes, classInfo(id))
	}
	slices.SortFunc(d.Classes, func(a, b ClassInfo) int { return cmp.Compare(a.ID, b.ID) })
	return d, nil
}

// generationPopulations returns the indices of a run's generations,
// ascending, and the population of each: its selection when one is
// recorded, else the candidates created in it (final-stage retrainings
// excluded).
func generationPopulations(cands []storage.Candidate, gens []storage.Generation) ([]int, map[int][]storage.Candidate) {
	byID := make(map[string]storage.Candidate, len(cands))
	pops := map[int][]storage.Candidate{}
	for _, c := range cands {
		byID[c.ID] = c
		if c.Operator != storage.OpFinal {
			pops[c.Generation] = append(pops[c.Generation], c)
		}
	}
	for _, g := range gens {
		var selected []storage.Candidate
		for _, id := range g.Population {
			if c, ok := byID[id]; ok {
				selected = append(selected, c)
			}
		}
		if len(selected) > 0 {
			pops[g.Index] = selected
		}
	}
	indices := make([]int, 0, len(pops))
	for i := range pops {
		indices = append(indices, i)
	}
	slices.Sort(indices)
	return indices, pops
}

// tallyClasses counts the LIV classes of the slots of generation gi's
// population and of its front.
func tallyClasses(gi int, pop, front []storage.Candidate) GenerationClasses {
	gc := GenerationClasses{Generation: gi, Members: len(pop), FrontMembers: len(front), Counts: []ClassCount{}}
	counts := map[int]*ClassCount{}
	tally := func(cs []storage.Candidate, inFront bool) {
		for _, c := range cs {
			g, err := genome.Parse(c.Genome)
			if err != nil {
				continue
			}
			for _, s := range g {
				cc := counts[s.Class]
				if cc == nil {
					cc = &ClassCount{Class: s.Class}
					counts[s.Class] = cc
				}
				if inFront {
					cc.Front++
					gc.FrontSlots++
				} else {
					cc.Population++
					gc.PopulationSlots++
				}
			}
		}
	}
	tally(pop, false)
	tally(front, true)
	for _, cc := range counts {
		gc.Counts = append(gc.Counts, *cc)
	}
	slices.SortFunc(gc.Counts, func(a, b ClassCount) int { return cmp.Compare(a.Class, b.Class) })
	return gc
}

// classInfo names class id, or calls it "class N" when the registry does not
// know it.
func classInfo(id int) ClassInfo {
	c, err := genome.LookupClass(id)
	if err != nil {
		return ClassInfo{ID: id, Name: fmt.Sprintf("class %d", id), Family: "unknown"}
	}
	return ClassInfo{ID: id, Name: c.Name, Family: c.Family.String()}
}

// Front returns the members of pop that are evaluated on every objective of
// objs and that no other such member dominates, one per genome (the first),
// in pop order.
func Front(pop []storage.Candidate, objs []string) []storage.Candidate {
	type entry struct {
		c storage.Candidate
		f []float64
	}
	var es []entry
	seen := map[string]bool{}
	for _, c := range pop {
		if c.Status != storage.CandEvaluated || seen[genomeKey(c)] {
			continue
		}
		f, ok := ObjectiveVector(c, objs)
		if !ok {
			continue
		}
		seen[genomeKey(c)] = true
		es = append(es, entry{c, f})
	}
	var front []storage.Candidate
	for i, e := range es {
		dominated := false
		for j, o := range es {
			if i != j && evolve.Dominates(o.f, e.f) {
				dominated = true
				break
			}
		}
		if !dominated {
			front = append(front, e.c)
		}
	}
	return front
}

// ObjectiveVector returns a candidate's objectives in the order of objs,
// and false when it lacks one of them.
func ObjectiveVector(c storage.Candidate, objs []string) ([]float64, bool) {
	f := make([]float64, len(objs))
	for i, o := range objs {
		v, ok := c.Objectives[o]
		if !ok {
			return nil, false
		}
		f[i] = v
	}
	return f, true
}
