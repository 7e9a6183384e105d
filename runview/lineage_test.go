package runview_test

import (
	"errors"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
)

func TestLineage(t *testing.T) {
	t.Parallel()
	db, ctx, must := emptyDB(t)
	cfg := config.Default()
	yml, _ := cfg.YAML()
	must(db.CreateRun(ctx, storage.Run{ID: "r", Created: time.Now(), Config: string(yml), Population: 2, Generations: 3}))
	id := func(g, i int) string { return storage.CandidateID("r", g, i) }
	gens := [][][]string{
		{nil, nil},
		{{id(0, 0), id(0, 1)}, {id(0, 0)}},
		{{id(1, 0), id(1, 1)}, {id(1, 0), id(1, 0)}},
	}
	for g, parents := range gens {
		must(db.StartGeneration(ctx, "r", g))
		for i, ps := range parents {
			op := storage.OpCrossMut
			if ps == nil {
				op = storage.OpSeed
			}
			must(db.AddCandidates(ctx, storage.Candidate{RunID: "r", Generation: g, Index: i, Genome: "11111",
				Parents: ps, Operator: op}))
		}
	}
	get := func(cid string) storage.Candidate {
		c, err := db.GetCandidate(ctx, cid)
		must(err)
		return c
	}

	// g2c0 <- g1c0 <- (g0c0, g0c1), g1c1 <- g0c0 (seen before, no parents:
	// not marked).
	tree, err := runview.Lineage(ctx, db, get(id(2, 0)))
	must(err)
	if tree.ID != id(2, 0) || len(tree.Parents) != 2 || len(tree.Parents[0].Parents) != 2 ||
		tree.Parents[1].ID != id(1, 1) || len(tree.Parents[1].Parents) != 1 || tree.Parents[1].Parents[0].Repeated ||
		tree.Parents[0].Parents[1].Operator != storage.OpSeed {
		t.Errorf("tree of g2c0: %+v", tree)
	}
	// g2c1 <- (g1c0, g1c0): the second is the same candidate, repeated.
	tree, err = runview.Lineage(ctx, db, get(id(2, 1)))
	must(err)
	if len(tree.Parents) != 2 || tree.Parents[0].Repeated || len(tree.Parents[0].Parents) != 2 ||
		!tree.Parents[1].Repeated || tree.Parents[1].Parents != nil {
		t.Errorf("tree of g2c1: first %+v, second %+v", tree.Parents[0], tree.Parents[1])
	}
	// A parent missing from the lineage is an error naming it.
	orphan := storage.Candidate{ID: "r/g009/c0000", Parents: []string{"r/g008/c0000"}}
	if _, err := runview.Lineage(ctx, db, orphan); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing parent: %v", err)
	}
}
