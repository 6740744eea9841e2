// The anchor of bench/engine.bench.mjs: graphile-worker 0.17.3 (its last release for Node 20)
// running trivial jobs, measured as in the anchor the issue quotes (jobs added with `addJobs` in
// batches of 1,000, a quiet logger, a task that does nothing), in its own database on the same
// PostgreSQL server. graphile-worker and pg are development dependencies used by the bench only.
import { Logger, makeWorkerUtils } from 'graphile-worker';

export const graphileLogger = () => new Logger(() => () => {});

/** The one trivial task. */
export const graphileTasks = () => ({ t: async () => {} });

/** Installs graphile-worker's schema in the database at `url` and returns its utilities. */
export async function graphileUtils(url) {
  const utils = await makeWorkerUtils({ connectionString: url, logger: graphileLogger() });
  await utils.migrate();
  return utils;
}

/** Queues `n` trivial jobs, 1,000 per `addJobs` call. */
export async function enqueueJobs(utils, n) {
  const jobs = Array.from({ length: n }, (_, i) => ({ identifier: 't', payload: { i } }));
  for (let i = 0; i < n; i += 1000) await utils.addJobs(jobs.slice(i, i + 1000));
}

/** Jobs still queued (graphile-worker deletes a job when it succeeds). */
export async function jobsLeft(sql) {
  const [row] = await sql`select count(*)::int as n from graphile_worker.jobs`;
  return row.n;
}
