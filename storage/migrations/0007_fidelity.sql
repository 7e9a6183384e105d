-- Multi-fidelity runs (successive halving over train-step rungs). A
-- candidate's objectives are those of the highest rung it reached: rung is
-- that rung's index, steps the train steps it had then (0 in runs without
-- rungs: the run's training.steps). Every evaluation of every rung is kept
-- in rung_evaluations, failures included ('failed_early': stopped by the
-- hopeless check, its loss curve in metrics).

ALTER TABLE candidates ADD COLUMN rung INTEGER NOT NULL DEFAULT 0 CHECK (rung >= 0);
ALTER TABLE candidates ADD COLUMN steps INTEGER NOT NULL DEFAULT 0 CHECK (steps >= 0);

CREATE TABLE rung_evaluations (
    candidate_id TEXT NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    rung         INTEGER NOT NULL CHECK (rung >= 0),
    steps        INTEGER NOT NULL CHECK (steps >= 1),
    status       TEXT NOT NULL CHECK (status IN ('evaluated', 'failed', 'failed_early')),
    objectives   TEXT CHECK (objectives IS NULL OR (json_valid(objectives) AND json_type(objectives) = 'object')),
    metrics      TEXT CHECK (metrics IS NULL OR json_valid(metrics)),
    error        TEXT NOT NULL DEFAULT '',
    finished     TEXT NOT NULL,
    PRIMARY KEY (candidate_id, rung)
) STRICT;

-- The evaluation cache keys results by rung: steps is the train steps of
-- the entry, 0 for the full budget of its config hash (every entry before
-- this migration, and the last rung of a multi-fidelity run, which trains
-- exactly as a single-budget run does). The primary key changes, so the
-- table is rebuilt.

CREATE TABLE evaluations_new (
    genome_hash  TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    steps        INTEGER NOT NULL DEFAULT 0 CHECK (steps >= 0),
    objectives   TEXT NOT NULL CHECK (json_valid(objectives) AND json_type(objectives) = 'object'),
    metrics      TEXT CHECK (metrics IS NULL OR json_valid(metrics)),
    candidate_id TEXT REFERENCES candidates (id) ON DELETE SET NULL,
    created      TEXT NOT NULL,
    PRIMARY KEY (genome_hash, config_hash, steps)
) STRICT;

INSERT INTO evaluations_new (genome_hash, config_hash, steps, objectives, metrics, candidate_id, created)
SELECT genome_hash, config_hash, 0, objectives, metrics, candidate_id, created FROM evaluations;

DROP TABLE evaluations;
ALTER TABLE evaluations_new RENAME TO evaluations;
