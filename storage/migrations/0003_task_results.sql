-- Results of DAG nodes, so a coordinator restarted after a crash rebuilds the
-- next node's payload from the database alone, whatever the queue kept.
ALTER TABLE task_states ADD COLUMN result TEXT CHECK (result IS NULL OR json_valid(result));
