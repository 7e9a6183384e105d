// Package data turns text and synthetic generators into the token batches
// the trainer consumes: a byte-level tokenizer, a text corpus read from a
// file or a directory with a fixed train/validation split, an installer for
// the Brown corpus, and the six MAD proxy tasks.
//
// Every training batch is a pure function of (seed, step): the trainer can
// stop at any step and resume from a checkpoint with exactly the batches it
// would have seen. Evaluation sets are fixed.
package data
