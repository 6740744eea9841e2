// Child-process probe for test/integration/postgres-driver-patch.test.ts: restarts PostgreSQL at
// an exact point of a postgres.js connection's start-up and reports the promise rejections
// nobody handled (what `quench serve` logs as "unhandled promise rejection"). The driver talks
// to the test's private cluster through a TCP proxy in this process, which holds the server's
// or the driver's bytes until the parent (which owns the cluster) has stopped it: the timing is
// fixed, not raced. Forked with IPC: the probe sends { id, what: 'stop-fast' | 'stop-immediate'
// | 'start' } and the parent answers { id } when done.
// Usage: node postgres-restart-probe.mjs <postgres package dir> <cluster port> ready-then-fatal|types-in-flight|fatal-in-flight
import net from 'node:net';
import { pathToFileURL } from 'node:url';

const [dir, pgPort, scenario] = process.argv.slice(2);
const { default: postgres } = await import(pathToFileURL(`${dir}/src/index.js`).href);

const unhandled = [];
process.on('unhandledRejection', (err) => unhandled.push(`${err?.code ?? ''}: ${String(err?.message).split(' 127.0.0.1')[0]}`));

let asked = 0;
const answers = new Map();
process.on('message', ({ id }) => answers.get(id)?.());
const ask = (what) =>
  new Promise((resolve) => {
    const id = ++asked;
    answers.set(id, resolve);
    process.send({ id, what });
  });
const settle = (query) =>
  Promise.race([query.then(() => 'ok', (e) => e.code ?? e.message), new Promise((r) => setTimeout(() => r('hung'), 5000))]);
const deferred = () => {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
};

/** Splits a server byte stream into protocol messages (type byte, int32 length including itself). */
function messages() {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    const out = [];
    while (pending.length >= 5 && pending.length >= 1 + pending.readUInt32BE(1)) {
      const size = 1 + pending.readUInt32BE(1);
      out.push(pending.subarray(0, size));
      pending = pending.subarray(size);
    }
    return out;
  };
}

// The first session through the proxy is the one the scenario cuts; later ones pass through.
const first = {
  readyHeld: deferred(), // the server's first ReadyForQuery, held back
  serverGone: deferred(), // the backend closed its socket
  clientNext: deferred(), // the driver's first message held back (by default the first after start-up: the array-types query)
  holdClient: scenario !== 'fatal-in-flight',
  held: [],
  client: undefined,
};
let sessions = 0;
const proxy = net.createServer((client) => {
  const upstream = net.connect(Number(pgPort), '127.0.0.1');
  client.on('error', () => upstream.destroy());
  if (sessions++ > 0) {
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
    return;
  }
  first.client = client;
  const split = messages();
  let ready = false;
  upstream.on('data', (chunk) => {
    for (const m of split(chunk)) {
      if (!ready && m[0] === 0x5a /* Z */) {
        ready = true;
        if (scenario === 'ready-then-fatal') {
          first.held.push(m);
          first.readyHeld.resolve();
          continue;
        }
      }
      if (first.held.length > 0) first.held.push(m);
      else client.write(m);
    }
  });
  upstream.on('error', () => {});
  upstream.on('close', () => first.serverGone.resolve());
  client.on('data', (chunk) => {
    if (!ready || !first.holdClient) return upstream.write(chunk);
    // Held: the server never sees it.
    first.clientNext.resolve();
  });
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const proxyPort = proxy.address().port;

const sql = postgres(`postgres://postgres@127.0.0.1:${proxyPort}/postgres`, { max: 1, onnotice: () => {}, connect_timeout: 5 });
const opening = settle(sql`select 1`);
let cut;
if (scenario === 'ready-then-fatal') {
  // A fast shutdown reaches a backend that has just said ReadyForQuery: the driver reads the
  // ReadyForQuery and the FATAL 57P01 together, starts its array-types query, then the socket closes.
  await first.readyHeld.promise;
  await ask('stop-fast');
  await first.serverGone.promise;
  first.client.write(Buffer.concat(first.held));
  await first.clientNext.promise;
  first.client.end();
  cut = await opening;
  await ask('start');
} else if (scenario === 'types-in-flight') {
  // An immediate shutdown while the array-types query is in flight; the driver reconnects at
  // once and finds the server down (connection refused).
  await first.clientNext.promise;
  await ask('stop-immediate');
  await first.serverGone.promise;
  const closed = new Promise((r) => proxy.close(r)); // new connections are refused from now on
  first.client.end();
  await closed;
  cut = await opening;
  await ask('start');
  await new Promise((r) => proxy.listen(proxyPort, '127.0.0.1', r));
} else if (scenario === 'fatal-in-flight') {
  // A fast shutdown while a query is in flight on an open connection: the backend's FATAL
  // 57P01 arrives, then the socket closes. The next query reconnects.
  if ((await opening) !== 'ok') throw new Error('the connection did not open');
  first.holdClient = true;
  const inFlight = settle(sql`select 2`);
  await first.clientNext.promise;
  await ask('stop-fast');
  await first.serverGone.promise;
  first.client.end();
  cut = await inFlight;
  await ask('start');
} else {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
const after = await settle(sql`select 1`);
// Let a rejection without a handler surface ('unhandledRejection' fires after the microtasks).
await new Promise((r) => setTimeout(r, 100));
console.log(JSON.stringify({ cut, after, unhandled }));
process.exit(0);
