-- Jobs run side by side in lanes (docs/CONTEXT.md): a running job records the lane it
-- holds ('gpu:0', 'cpu', 'io', ...), so every engine on the machine counts the same
-- slots and the jobs dock shows where each job runs.
ALTER TABLE jobs ADD COLUMN lane TEXT;

-- One metric row per (job, metric, step). A resumed run used to write again the steps
-- past its checkpoint that a killed run had already stored, so the loss plot drew them
-- twice. Keep the newest row of each duplicate (the resumed run's), then make it unique.
DELETE FROM job_metrics
 WHERE rowid NOT IN (SELECT max(rowid) FROM job_metrics GROUP BY job_id, name, step);
DROP INDEX IF EXISTS job_metrics_series;
CREATE UNIQUE INDEX job_metrics_series ON job_metrics (job_id, name, step);
