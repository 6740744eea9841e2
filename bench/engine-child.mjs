// A worker process for bench/engine.bench.mjs: `node engine-child.mjs <quench|graphile> <url> <concurrency>`.
// It sets up (imports, pool, engine) and says `ready` over IPC; on `go` it starts its worker and
// claims work; on `stop` it stops it and exits. The parent measures the time from `go` to the
// last run or job done, read from the database, so set-up time is never counted.
import { graphileLogger, graphileTasks } from './engine-graphile.mjs';
import { benchEngine } from './engine-quench.mjs';

const [kind, url, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);

async function quench() {
  const { openDatabase } = await import(new URL('../dist/db/database.js', import.meta.url).href);
  const db = await openDatabase({ url, poolMax: 10 });
  const { engine, stopChaining } = await benchEngine(db, concurrency);
  const worker = engine.createWorker(`bench-${process.pid}`);
  return {
    go: () => worker.start(),
    stop: async () => {
      await worker.stop();
      await stopChaining();
      await db.close();
    },
  };
}

async function graphile() {
  const { run } = await import('graphile-worker');
  let runner;
  return {
    go: async () => {
      runner = await run({ connectionString: url, concurrency, noHandleSignals: true, logger: graphileLogger(), pollInterval: 1000, taskList: graphileTasks() });
    },
    stop: async () => {
      await runner?.stop();
    },
  };
}

const worker = kind === 'quench' ? await quench() : await graphile();
process.on('message', (message) => {
  if (message === 'go') worker.go().catch((err) => {
    console.error(err);
    process.exit(1);
  });
  if (message === 'stop')
    worker
      .stop()
      .catch((err) => console.error(err))
      .finally(() => process.exit(0));
});
process.send('ready');
