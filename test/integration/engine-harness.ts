import type { Registry } from 'prom-client';
import { createAuditTrail } from '../../src/audit/trail.js';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/core/clock.js';
import type { Database } from '../../src/db/database.js';
import { createEngine, type Engine, type EngineDeps } from '../../src/engine/engine.js';
import { playbookHash } from '../../src/playbooks/loader.js';
import { type Playbook, type PlaybookSource, playbookSchema } from '../../src/playbooks/core/model.js';
import { silentLogger } from '../../src/telemetry/logger.js';

/** An engine on a test database, with the given clock and allowlists. */
export function testEngine(db: Database, clock: Clock, options: Partial<EngineDeps> & { env?: Record<string, string> } = {}): Engine {
  const config = loadConfig({ QUENCH_HTTP_ALLOWLIST: '127.0.0.1:*', QUENCH_EXEC_ALLOWLIST: 'node', ...options.env });
  // Leases follow the test's clock unless a test asks for the database's.
  const engineOptions = { leaseClock: 'injected' as const, ...options.options };
  return createEngine({ db, audit: createAuditTrail(db, clock), clock, logger: silentLogger, config, ...options, options: engineOptions });
}

/** A playbook from a compact source, as the loader would give it. */
export function playbook(
  name: string,
  steps: PlaybookSource['steps'],
  extra: Partial<PlaybookSource> = {},
): { definition: Playbook; hash: string } {
  const definition = playbookSchema.parse({ apiVersion: 'quench/v1', kind: 'Playbook', metadata: { name, owner: 'sre' }, steps, ...extra });
  return { definition, hash: playbookHash(definition) };
}

/** The runs' states once every one has ended (succeeded or failed), or as they are after `ms`. */
export async function runsSettled(engine: Engine, ids: string[], ms = 10_000): Promise<string[]> {
  const until = Date.now() + ms;
  for (;;) {
    const states = await Promise.all(ids.map(async (id) => (await engine.getRun(id))!.state));
    if (states.every((s) => s === 'succeeded' || s === 'failed') || Date.now() > until) return states;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Action attempts the engine started, by how (`quench_engine_attempt_starts_total{via}`). */
export async function attemptStartsOf(registry: Registry): Promise<{ own: number; chained: number }> {
  const metric = registry.getSingleMetric('quench_engine_attempt_starts_total');
  const values = metric ? (await metric.get()).values : [];
  const by = (via: string) => values.find((v) => v.labels.via === via)?.value ?? 0;
  return { own: by('own'), chained: by('chained') };
}
