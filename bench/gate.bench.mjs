// Deploy-gate answer throughput on loopback: `GET /v1/deploy-gate` of a child `quench serve`
// (built dist/, embedded database, one synthetic SLO) beside a bare Node HTTP server in its own
// child process answering a constant JSON body of the same size, measured with autocannon in
// the same run, same connections and duration. The bare server is measured before and after the
// gate, and averaged, so a change in the machine's load shows as a spread. The gate answers
// from memory: no database or Prometheus call per request (answers that block would be audited,
// so the bench asks an unfrozen service, the hot path of every green pipeline).
// Beside throughput, each round reads the server process's CPU time (Linux /proc): CPU per
// answered request does not depend on how busy the rest of the machine is, so `cpuRatio`
// (bare CPU per request / gate CPU per request) is steadier than `ratio` on a shared machine.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const DURATION_S = Number(process.env.BENCH_GATE_SECONDS || 10);
const CONNECTIONS = Number(process.env.BENCH_GATE_CONNECTIONS || 20);
const ROUNDS = Number(process.env.BENCH_GATE_ROUNDS || 3);
const root = fileURLToPath(new URL('..', import.meta.url));

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

async function spawnUntilReady(args, env, readyPath) {
  const port = await freePort();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`${url}${readyPath}`)).ok) return { child, url };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${args.join(' ')} did not become ready: ${stderr}`);
}

const stop = (p) => new Promise((r) => (p.child.exitCode !== null ? r() : (p.child.once('exit', r), p.child.kill('SIGTERM'))));

/** User + system CPU seconds of a process so far (clock ticks of 1/100 s), or null off Linux. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

async function load(url, pid) {
  const cpuBefore = cpuSeconds(pid);
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
  const cpuAfter = cpuSeconds(pid);
  const ok = result['2xx'];
  return {
    requestsPerSecond: Math.round(ok / DURATION_S),
    cpuMicrosPerRequest: cpuBefore === null || cpuAfter === null || ok === 0 ? null : Math.round(((cpuAfter - cpuBefore) * 1e6) / ok),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const SLO = `apiVersion: quench/v1
kind: SLO
metadata: { name: checkout-availability }
service: checkout
objective: 99.9
sli:
  synthetic:
    requestsPerSecond: 50
    script: [{ at: "0", errorRatio: 0.0001 }]
`;

export default async function bench(ctx) {
  const dir = mkdtempSync(join(tmpdir(), 'quench-gate-bench-'));
  mkdirSync(join(dir, 'slo'));
  mkdirSync(join(dir, 'playbooks'));
  writeFileSync(join(dir, 'slo', 'checkout.yaml'), SLO);
  let gate;
  try {
    gate = await spawnUntilReady(
      [join(root, 'bin/quench.js'), 'serve'],
      {
        PATH: process.env.PATH,
        QUENCH_DATA_DIR: join(dir, 'data'),
        QUENCH_SLO_DIR: join(dir, 'slo'),
        QUENCH_PLAYBOOK_DIR: join(dir, 'playbooks'),
        LOG_LEVEL: 'warn',
      },
      '/readyz',
    );
    const gateUrl = `${gate.url}/v1/deploy-gate?service=checkout&risk=high&change=bench`;
    const sample = await (await fetch(gateUrl)).text();
    if (!JSON.parse(sample).allowed) throw new Error(`the bench service is frozen: ${sample}`);
    // A bare server answering the gate's own answer body, byte for byte, in its own process.
    const bareScript = join(dir, 'bare.mjs');
    writeFileSync(
      bareScript,
      `import { createServer } from 'node:http';
const body = ${JSON.stringify(sample)};
createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); })
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
    );
    const bare = await spawnUntilReady([bareScript], { PATH: process.env.PATH }, '/');
    try {
      // Alternating rounds (bare, gate, bare, gate, …, bare): on a shared machine the load
      // moves, and each gate round is compared with the bare rounds on either side of it.
      ctx.log(`autocannon: ${CONNECTIONS} connections, ${ROUNDS} gate rounds of ${DURATION_S} s between bare rounds`);
      const bareRounds = [await load(`${bare.url}/`, bare.child.pid)];
      const gateRounds = [];
      for (let i = 0; i < ROUNDS; i++) {
        gateRounds.push(await load(gateUrl, gate.child.pid));
        bareRounds.push(await load(`${bare.url}/`, bare.child.pid));
      }
      const ratios = gateRounds.map(
        (g, i) => g.requestsPerSecond / ((bareRounds[i].requestsPerSecond + bareRounds[i + 1].requestsPerSecond) / 2),
      );
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const cpu = (rounds) => median(rounds.map((r) => r.cpuMicrosPerRequest).filter((x) => x !== null)) ?? null;
      const gateCpu = cpu(gateRounds);
      const bareCpu = cpu(bareRounds);
      return {
        durationSeconds: DURATION_S,
        connections: CONNECTIONS,
        bodyBytes: Buffer.byteLength(sample),
        gate: gateRounds,
        bare: bareRounds,
        ratios: ratios.map((r) => Math.round(r * 100) / 100),
        ratio: Math.round(median(ratios) * 100) / 100,
        target: 0.7,
        cpuMicrosPerRequest: { gate: gateCpu, bare: bareCpu },
        cpuRatio: gateCpu && bareCpu ? Math.round((bareCpu / gateCpu) * 100) / 100 : null,
        loadAverage: loadavg()[0],
      };
    } finally {
      await stop(bare);
    }
  } finally {
    if (gate) await stop(gate);
    rmSync(dir, { recursive: true, force: true });
  }
}
