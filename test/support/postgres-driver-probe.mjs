// Child-process probe for test/integration/postgres-driver-patch.test.ts: reproduces the
// postgres.js defects the install-time patch (scripts/patch-postgres.mjs) fixes, with the
// package loaded from a given folder. A defect that throws from a timer ends this process
// (exit 1, the TypeError on stderr), which is what it did to `quench serve`.
// Usage: node postgres-driver-probe.mjs <postgres package dir> <database url> reserved|transaction|poison
import { pathToFileURL } from 'node:url';

const [dir, url, scenario] = process.argv.slice(2);
const { default: postgres } = await import(pathToFileURL(`${dir}/src/index.js`).href);
const killer = postgres(url, { max: 1, onnotice: () => {} });
const settle = (query) =>
  Promise.race([query.then(() => 'ok', (e) => e.code ?? e.message), new Promise((r) => setTimeout(() => r('hung'), 5000))]);

if (scenario === 'reserved') {
  // porsager/postgres#1208: the next query on a connection whose backend died.
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const reserved = await sql.reserve();
  const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
  await killer`select pg_terminate_backend(${pid})`;
  const first = await settle(reserved`select 1`);
  const second = await settle(reserved`select 1`);
  console.log(JSON.stringify({ first, second }));
} else if (scenario === 'transaction') {
  // porsager/postgres#1216: a transaction whose connection died keeps running on the reconnected one.
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`create table if not exists probe_leak (x int)`;
  await sql`truncate probe_leak`;
  let release;
  const gate = new Promise((r) => (release = r));
  let started;
  const backend = new Promise((r) => (started = r));
  const tx = sql
    .begin(async (t) => {
      const [{ pid }] = await t`select pg_backend_pid() as pid`;
      started(pid);
      await gate; // other work, during which the connection dies and the pool reconnects
      await t`insert into probe_leak values (1)`;
      await t`insert into probe_leak values (2)`;
    })
    .then(() => 'committed', (e) => e.code ?? e.message);
  await killer`select pg_terminate_backend(${await backend})`;
  await new Promise((r) => setTimeout(r, 200));
  const reconnected = await settle(sql`select 1`);
  release();
  const transaction = await tx;
  await new Promise((r) => setTimeout(r, 200));
  const [{ n }] = await sql`select count(*)::int as n from probe_leak`;
  console.log(JSON.stringify({ reconnected, transaction, leakedRows: n }));
} else if (scenario === 'poison') {
  // The connection closes while a small write waits for its flush (setImmediate): then the
  // pool reconnects this slot, and its start-up message must still be sent.
  const net = await import('node:net');
  const { hostname, port } = new URL(url);
  const sockets = [];
  const connectSocket = () =>
    new Promise((resolve, reject) => {
      const s = net.connect(Number(port), hostname);
      s.once('connect', () => resolve(sockets[sockets.push(s) - 1]));
      s.once('error', reject);
    });
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {}, socket: connectSocket });
  await sql`select 1`;
  const current = sockets.at(-1);
  // Queued before the driver's flush of the next query, so the close comes first.
  setImmediate(() => {
    current.emit('close', false);
    current.destroy();
  });
  const cut = await settle(sql`select 1`);
  const after = await settle(sql`select 2`);
  console.log(JSON.stringify({ cut, after }));
} else {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
process.exit(0);
