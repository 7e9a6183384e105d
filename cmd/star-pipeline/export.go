package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/export"
	"github.com/star-pipeline/star-pipeline/safetensors"
)

func init() { register(exportCommand()) }

func exportCommand() *cli.Command {
	return &cli.Command{
		Name: "export",
		Usage: "print everything about a candidate as JSON: genome, hash, run config, static costs, " +
			"objectives, metrics, checkpoint; --weights also writes its trained weights as safetensors",
		ArgsUsage: "[CANDIDATE_ID]",
		UsageText: "star-pipeline export r20240501-1/g005/c0003 > best.json\n" +
			"star-pipeline export r20240501-1/g005/c0003 --weights best.safetensors\n" +
			"star-pipeline export r20240501-1/g005/c0003 --weights best.safetensors --job in-context-recall\n" +
			"star-pipeline export --checkpoint ckpt/run1 --weights run1.safetensors",
		Description: "Two parameter counts appear, on purpose: objectives.params and costs.params count the model at the " +
			"run's dims (search.vocab, 256 by default); metrics.train.jobs[].trained_params count each model the trainer " +
			"built, at its task's vocabulary (trained_vocab: 16 for most MAD tasks). Throughputs: train_tokens_per_s is " +
			"training, eval.jobs[].forward_tokens_per_s the forward pass latency is measured on. docs/api.md lists every field.\n\n" +
			"--weights FILE writes the model's weights (not the optimizer state) as a safetensors file, one float32 tensor " +
			"per weight named as docs/architecture.md names it (embed, slot_0/q, ...), with the genome, the dims the model " +
			"was built at, the task and the steps as metadata. A candidate trained on several tasks has one model per task: " +
			"--job picks one. --checkpoint DIR reads the weights from a checkpoint directory instead (a copy of a candidate's, " +
			"or one `star-pipeline train --checkpoint` wrote); without CANDIDATE_ID it needs no database.",
		// --json is accepted like on every other command; the output is
		// always JSON.
		Flags: []cli.Flag{dbFlag(), jsonFlag(),
			&cli.StringFlag{Name: "weights", Usage: "also write the trained weights to this safetensors file",
				EnvVars: []string{"STAR_WEIGHTS"}, TakesFile: true},
			&cli.StringFlag{Name: "job", Usage: "with --weights: the training job (task) whose model to export, for a candidate trained on several",
				EnvVars: []string{"STAR_JOB"}},
			&cli.StringFlag{Name: "checkpoint", Usage: "with --weights: read the weights from this checkpoint directory",
				EnvVars: []string{"STAR_CHECKPOINT"}, TakesFile: true},
		},
		Action: exportAction,
	}
}

func exportAction(c *cli.Context) error {
	args, err := commandArgs(c)
	if err != nil {
		return err
	}
	weights, job, ckpt := c.String("weights"), c.String("job"), c.String("checkpoint")
	switch {
	case len(args) > 1:
		return badInput("want one CANDIDATE_ID, got %d arguments", len(args))
	case len(args) == 0 && ckpt == "":
		return badInput("missing CANDIDATE_ID; %s (or give --checkpoint DIR --weights FILE)", candidateHint)
	case weights == "" && (job != "" || ckpt != ""):
		return badInput("--job and --checkpoint choose the weights to write: give --weights FILE too")
	case len(args) == 0 && job != "":
		return badInput("--job picks one of a candidate's models: give CANDIDATE_ID too")
	}
	if len(args) == 0 {
		return exportCheckpoint(c, ckpt, weights)
	}
	return exportCandidate(c, args[0], ckpt, job, weights)
}

// exportCandidate prints the export of candidate id and, with weights,
// writes its weights there from the checkpoints under ckpt (its own when
// ckpt is "").
func exportCandidate(c *cli.Context, id, ckpt, job, weights string) error {
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := c.Context
	cand, err := getCandidate(ctx, db, id)
	if err != nil {
		return err
	}
	r, err := getRun(ctx, db, cand.RunID)
	if err != nil {
		return err
	}
	cfg, err := runConfig(r)
	if err != nil {
		return err
	}
	out, err := export.Build(cand, r, cfg)
	if err != nil {
		return err
	}
	if out.CostErr != nil {
		return out.CostErr
	}
	if weights != "" {
		f, err := export.CandidateWeights(out, ckpt, job)
		if err != nil {
			return err
		}
		if out.Weights, err = saveWeights(c, weights, f); err != nil {
			return err
		}
	}
	return writeJSON(c.App.Writer, out)
}

// exportCheckpoint writes the weights of the checkpoint in dir to weights
// and prints what the checkpoint holds.
func exportCheckpoint(c *cli.Context, dir, weights string) error {
	out, err := export.DescribeCheckpoint(dir)
	if err != nil {
		return err
	}
	f, err := export.Weights(dir)
	if err != nil {
		return err
	}
	if out.Weights, err = saveWeights(c, weights, f); err != nil {
		return err
	}
	return writeJSON(c.App.Writer, out)
}

// saveWeights writes f to path as safetensors and says so on stderr.
func saveWeights(c *cli.Context, path string, f safetensors.File) (*export.WeightsFile, error) {
	wf, err := export.SaveWeights(path, f)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %d tensors (%d values) to %s\n", wf.Tensors, wf.Params, wf.Path)
	return &wf, nil
}
