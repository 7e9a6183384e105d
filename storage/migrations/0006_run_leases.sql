-- A run's lease says which coordinator drives it. A coordinator takes it in
-- an immediate transaction before it drives the run, renews it while it
-- does, and checks it in every transaction that writes to the run; another
-- coordinator takes it over only once it has expired or its owner is known
-- to be dead. No row: no coordinator drives the run.

CREATE TABLE run_leases (
    run_id   TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    owner    TEXT NOT NULL CHECK (owner <> ''),  -- the coordinator, unique per process: host:pid:random
    process  TEXT NOT NULL DEFAULT '',           -- how its own machine tells whether it still lives (opaque)
    acquired TEXT NOT NULL,                      -- when this owner took it
    renewed  TEXT NOT NULL,                      -- its last renewal
    expires  TEXT NOT NULL                       -- free for another owner from then on
) STRICT;
