// The engine as `quench serve` runs it, for bench/engine.bench.mjs and its worker processes
// (engine-child.mjs): default configuration, a silent logger, and the audit chainer running
// beside it when the trail has one, so its cost is counted.
const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;

export async function benchEngine(db, concurrency) {
  const { createAuditTrail } = await import(dist('audit/trail.js'));
  const { loadConfig } = await import(dist('config/load.js'));
  const { systemClock } = await import(dist('core/clock.js'));
  const { createEngine } = await import(dist('engine/engine.js'));
  const { silentLogger } = await import(dist('telemetry/logger.js'));
  const audit = createAuditTrail(db, systemClock);
  audit.startChaining?.({ onError: (err) => console.error('audit chaining failed', err) });
  const engine = createEngine({ db, audit, clock: systemClock, logger: silentLogger, config: loadConfig({}), options: { concurrency } });
  return { engine, stopChaining: async () => audit.stopChaining?.() };
}
