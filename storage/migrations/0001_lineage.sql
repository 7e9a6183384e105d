-- Lineage of a search: runs, their generations, candidates with parents,
-- the DAG's task states and an event log. Times are UTC text in a fixed
-- width layout (2006-01-02T15:04:05.000000000Z) so they sort as text;
-- NULL means "not yet". JSON columns hold objects or arrays as text.

CREATE TABLE runs (
    id                 TEXT PRIMARY KEY,
    created            TEXT NOT NULL,
    updated            TEXT NOT NULL,
    status             TEXT NOT NULL
                       CHECK (status IN ('pending', 'running', 'finished', 'failed', 'cancelled')),
    seed               INTEGER NOT NULL,          -- uint64 stored as its int64 bit pattern
    config             TEXT NOT NULL,             -- the run's configuration, YAML
    config_hash        TEXT NOT NULL,             -- config.Hash(): the evaluation cache key
    algorithm          TEXT NOT NULL,
    population         INTEGER NOT NULL CHECK (population > 0),
    generations        INTEGER NOT NULL CHECK (generations >= 0),
    current_generation INTEGER NOT NULL DEFAULT 0 CHECK (current_generation >= 0),
    finished           TEXT,
    error              TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX runs_status ON runs (status, created);

CREATE TABLE generations (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    started     TEXT,
    finished    TEXT,
    hypervolume REAL,
    population  TEXT NOT NULL DEFAULT '[]'     -- candidate ids after selection
                CHECK (json_valid(population) AND json_type(population) = 'array'),
    PRIMARY KEY (run_id, idx)
) STRICT;

CREATE TABLE candidates (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    generation    INTEGER NOT NULL CHECK (generation >= 0),
    idx           INTEGER NOT NULL CHECK (idx >= 0),
    genome        TEXT NOT NULL,                  -- canonical genome text
    genome_hash   TEXT NOT NULL,
    operator      TEXT NOT NULL,                  -- seed, random, crossover, mutation, ...
    seed          INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'training', 'evaluated', 'failed')),
    objectives    TEXT CHECK (objectives IS NULL OR (json_valid(objectives) AND json_type(objectives) = 'object')),
    metrics       TEXT CHECK (metrics IS NULL OR json_valid(metrics)),
    error         TEXT NOT NULL DEFAULT '',
    queued        TEXT,
    started       TEXT,
    finished      TEXT,
    train_seconds REAL NOT NULL DEFAULT 0,
    checkpoint    TEXT NOT NULL DEFAULT '',
    worker        TEXT NOT NULL DEFAULT '',
    UNIQUE (run_id, generation, idx)
) STRICT;

CREATE INDEX candidates_genome ON candidates (run_id, genome_hash);

CREATE TABLE candidate_parents (
    child    TEXT NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    parent   TEXT NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    PRIMARY KEY (child, position)
) STRICT;

CREATE INDEX candidate_parents_parent ON candidate_parents (parent);

CREATE TABLE task_states (
    id         TEXT PRIMARY KEY,                  -- run/gNNN/stage/NNNN[/aN], the queue's task id
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL CHECK (generation >= 0),
    stage      TEXT NOT NULL,
    idx        INTEGER NOT NULL CHECK (idx >= 0),
    attempt    INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    kind       TEXT NOT NULL,                     -- asynq task type, e.g. star:train
    queue      TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'enqueued', 'running', 'done', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT NOT NULL DEFAULT '',
    created    TEXT NOT NULL,
    updated    TEXT NOT NULL
) STRICT;

CREATE INDEX task_states_run_status ON task_states (run_id, status);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    time    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(message))
) STRICT;

CREATE INDEX events_run ON events (run_id, id);
