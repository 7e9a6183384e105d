// Package trainer trains the model a genome stands for on a data.Task and
// scores it: AdamW with decoupled weight decay on matrices only, a cosine
// schedule with linear warmup, global-norm gradient clipping, cross-entropy
// with ignored positions plus the model's auxiliary loss. It checkpoints to
// a directory (temporary file, then rename) and resumes exactly: the batch
// of a step is a pure function of (seed, step), and the learning rate and
// bias corrections are computed from the step, so a resumed run produces
// the same losses, bit for bit on the CPU backend, as one never stopped.
//
// Variables live in one GoMLX store: the model under /model, the
// compression decoder under /decoder, AdamW's moments under
// /optimizer/m and /optimizer/v.
package trainer
