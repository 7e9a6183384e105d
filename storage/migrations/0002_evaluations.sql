-- Evaluation cache: objectives measured for a genome under a training
-- configuration, so an architecture already evaluated is not trained again
-- (within a run or across runs with the same training hash).

CREATE TABLE evaluations (
    genome_hash  TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    objectives   TEXT NOT NULL CHECK (json_valid(objectives) AND json_type(objectives) = 'object'),
    metrics      TEXT CHECK (metrics IS NULL OR json_valid(metrics)),
    candidate_id TEXT REFERENCES candidates (id) ON DELETE SET NULL,
    created      TEXT NOT NULL,
    PRIMARY KEY (genome_hash, config_hash)
) STRICT;

-- Fan-in counts per generation and status.
CREATE INDEX candidates_status ON candidates (run_id, generation, status);
