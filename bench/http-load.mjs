// A lean HTTP/1.1 load generator for the webhook bench. On a 2-core machine the load generator
// shares the cores with the service it measures and with PostgreSQL: autocannon spent 120–170 µs
// of CPU per request here (its own HTTP client, per-request objects, histograms), a third of a
// core at the rates measured, which the service under test then did not get. pgbench, the
// baseline, is C and cheap. This one writes each request as one pre-built buffer on a keep-alive
// socket and parses only the status line, Content-Length and body of the answer.
//
// Closed loop (no `rate`): every connection sends its next request when the previous answer has
// arrived, until the time is up. Open loop (`rate`): requests are due at fixed times (rate per
// second over all connections) and a due request goes out on the next idle connection. Latency
// counts from when a request went out (as autocannon's does), so the generator's own timer
// jitter is not charged to the service; `late` counts requests that went out more than 10 ms
// after they were due (every connection was busy, or the generator fell behind), which is where
// a stalled service would show.
import { connect } from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');

/** The bytes of one POST with a body; `headers` are name → value. */
export function postRequest(host, path, headers, body) {
  const bodyBytes = Buffer.from(body);
  let head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${bodyBytes.length}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`), bodyBytes]);
}

/**
 * Parses complete responses off the front of `buf`; calls `onResponse(status, bodyText)` for each
 * and returns the bytes left over (a partial response). Only Content-Length framing: the service
 * always sends it (src/http/server.ts `send`); anything else is an error, not a guess.
 */
export function parseResponses(buf, onResponse) {
  let offset = 0;
  for (;;) {
    const end = buf.indexOf(CRLF2, offset);
    if (end < 0) break;
    const head = buf.toString('latin1', offset, end);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!m) throw new Error(`response without Content-Length: ${head.slice(0, 200)}`);
    const bodyStart = end + 4;
    const bodyEnd = bodyStart + Number(m[1]);
    if (bodyEnd > buf.length) break;
    onResponse(status, buf.toString('utf8', bodyStart, bodyEnd));
    offset = bodyEnd;
  }
  return offset === 0 ? buf : buf.subarray(offset);
}

const percentile = (sorted, p) => (sorted.length === 0 ? undefined : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);

/**
 * Runs the load for `seconds`; `nextRequest()` gives the bytes of each request, `onResponse(status,
 * body)` sees each answer (also those that arrive after the time is up: every request sent is
 * waited for, up to `drainMs`, so none is stored without its answer being read).
 */
export async function httpLoad({ host = '127.0.0.1', port, connections, seconds, rate, nextRequest, onResponse, onStart, drainMs = 10_000 }) {
  const latencies = [];
  let completedInTime = 0;
  let errors = 0;
  let non2xx = 0;
  // Set once the connections are up, right before the first request.
  let cpuBefore;
  let started = Infinity;
  let deadline = Infinity;
  const idle = [];
  let due = 0; // open loop: requests due so far
  let sent = 0;
  let answered = 0;
  let stopping = false;
  let wakeDone;
  const done = new Promise((resolve) => (wakeDone = resolve));
  const finishedIfDone = () => {
    if (stopping && answered + errors >= sent) wakeDone();
  };

  const dueAt = (k) => started + (k * 1000) / rate;

  let late = 0;
  const send = (conn, dueTime) => {
    const now = performance.now();
    if (now - dueTime > 10) late++;
    conn.pending.push(now);
    sent++;
    conn.socket.write(nextRequest());
  };

  const onIdle = (conn) => {
    const now = performance.now();
    if (now >= deadline) stopping = true;
    if (stopping) return finishedIfDone();
    if (rate === undefined) return send(conn, now);
    // Open loop: take the oldest request that is due and not sent yet, else wait for one.
    if (sent < due) return send(conn, dueAt(sent));
    idle.push(conn);
  };

  const conns = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise((resolve, reject) => {
          const socket = connect({ host, port, noDelay: true });
          const conn = { socket, pending: [], buf: Buffer.alloc(0) };
          socket.once('connect', () => resolve(conn));
          socket.once('error', reject);
        }),
    ),
  );

  // The clock (and the caller's counters, `onStart`) start once every connection is up.
  onStart?.();
  cpuBefore = process.cpuUsage();
  started = performance.now();
  deadline = started + seconds * 1000;
  for (const conn of conns) {
    conn.socket.removeAllListeners('error');
    conn.socket.on('error', () => {
      errors += conn.pending.length;
      conn.pending = [];
      finishedIfDone();
    });
    conn.socket.on('data', (chunk) => {
      conn.buf = conn.buf.length === 0 ? chunk : Buffer.concat([conn.buf, chunk]);
      conn.buf = parseResponses(conn.buf, (status, body) => {
        const now = performance.now();
        const sentAt = conn.pending.shift();
        answered++;
        if (now <= deadline) {
          completedInTime++;
          latencies.push(now - sentAt);
        }
        if (status < 200 || status > 299) non2xx++;
        onResponse(status, body);
      });
      if (conn.pending.length === 0) onIdle(conn);
    });
  }

  let ticker;
  if (rate === undefined) {
    for (const conn of conns) onIdle(conn);
  } else {
    idle.push(...conns);
    // Every millisecond: count what is due and hand it to idle connections (timers are coarse; the
    // latency still counts from the exact due time).
    ticker = setInterval(() => {
      const now = performance.now();
      if (now >= deadline) return;
      due = Math.floor(((now - started) * rate) / 1000) + 1;
      while (sent < due && idle.length > 0) send(idle.shift(), dueAt(sent));
    }, 1);
  }
  // Time up: no new requests; then every request sent is waited for (up to drainMs).
  await new Promise((r) => setTimeout(r, Math.max(0, deadline - performance.now())));
  stopping = true;
  clearInterval(ticker);
  finishedIfDone();
  let drainTimer;
  const drained = await Promise.race([done.then(() => true), new Promise((r) => (drainTimer = setTimeout(() => r(false), drainMs)))]);
  clearTimeout(drainTimer);
  for (const conn of conns) conn.socket.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: completedInTime / seconds,
    /** This process's CPU during the run (µs): the generator's own cost. */
    cpuUs: (({ user, system }) => user + system)(process.cpuUsage(cpuBefore)),
    late,
    sent,
    answered,
    unanswered: drained ? 0 : sent - answered - errors,
    non2xx,
    errors,
    latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) },
  };
}
