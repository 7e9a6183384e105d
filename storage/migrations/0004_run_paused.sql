-- Runs can be paused: a coordinator leaves a paused run alone until it is
-- resumed. SQLite cannot change a CHECK constraint in place, so runs is
-- rebuilt: new table, copy, drop, rename, indexes again. Migrations run
-- with foreign keys off (dropping runs does not cascade to the rows that
-- refer to it, and they refer to the new table by name afterwards); the
-- step checks them before it commits.

CREATE TABLE runs_new (
    id                 TEXT PRIMARY KEY,
    created            TEXT NOT NULL,
    updated            TEXT NOT NULL,
    status             TEXT NOT NULL
                       CHECK (status IN ('pending', 'running', 'paused', 'finished', 'failed', 'cancelled')),
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

INSERT INTO runs_new (id, created, updated, status, seed, config, config_hash, algorithm,
                      population, generations, current_generation, finished, error)
SELECT id, created, updated, status, seed, config, config_hash, algorithm,
       population, generations, current_generation, finished, error
FROM runs;

DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_status ON runs (status, created);

-- Before this status, pausing from the dashboard stored the run as failed
-- with this error text.
UPDATE runs SET status = 'paused', finished = NULL, error = ''
WHERE status = 'failed' AND error = 'paused from the dashboard';
