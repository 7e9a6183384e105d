-- The final stage of a run: the architectures retrained after the last
-- generation (the best candidates of its non-dominated set and the
-- baselines), one row each. Their retrainings are candidates of generation
-- (run generations + 1), index entry * seeds + seed, operator 'final', with
-- the retrained candidate as parent where there is one.

CREATE TABLE final_entries (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    name        TEXT NOT NULL,                -- "transformer++", "STAR-1", ...
    role        TEXT NOT NULL CHECK (role IN ('baseline', 'candidate')),
    genome      TEXT NOT NULL,                -- canonical genome text
    genome_hash TEXT NOT NULL,
    source      TEXT REFERENCES candidates (id) ON DELETE SET NULL,  -- the candidate it retrains
    aliases     TEXT NOT NULL DEFAULT '[]'    -- other names of the same architecture, e.g. ["STAR-2"]
                CHECK (json_valid(aliases) AND json_type(aliases) = 'array'),
    PRIMARY KEY (run_id, idx),
    UNIQUE (run_id, genome_hash)
) STRICT;
