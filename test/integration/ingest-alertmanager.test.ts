import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { ALERTMANAGER_BIN, type AlertmanagerProcess, alertmanagerAvailable, startAlertmanager } from '../support/alertmanager.js';
import { waitFor } from '../support/wait-for.js';

// A real Alertmanager sends its webhooks to a real Quench: alerts posted to Alertmanager's v2
// API start the matching playbook's run once (resends included), the other alert of the group
// joins it, an unmatched group is stored unrouted, and the resolution completes the run's wait.
const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata:
  name: checkout-latency
  owner: payments
triggers:
  - source: alertmanager
    labels:
      service: checkout
steps:
  - id: untilResolved
    kind: wait
    until:
      event: alert.resolved
    timeout: 1h
  - id: note
    kind: action
    action: log
    params:
      message: checkout latency resolved
`;
const TOKEN = 'am-webhook-token';

if (!alertmanagerAvailable)
  console.warn(`skipping the Alertmanager acceptance test: ${ALERTMANAGER_BIN} not found (apt-get install prometheus-alertmanager)`);

describe.skipIf(!alertmanagerAvailable)('a real Alertmanager into Quench', () => {
  let service: RunningService;
  let am: AlertmanagerProcess;
  let dir: string;
  const rows = <T>(q: ReturnType<typeof sql>) => service.ctx.db.rows<T>(q);
  const metric = async (pattern: RegExp) => Number(pattern.exec(await service.ctx.metrics.registry.metrics())?.[1] ?? 0);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-am-test-'));
    writeFileSync(join(dir, 'checkout.yaml'), PLAYBOOK);
    const config = loadConfig({
      QUENCH_DATA_DIR: 'memory://',
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_DIR: join(dir, 'no-slos'),
      QUENCH_ALERTMANAGER_TOKEN: TOKEN,
      QUENCH_ENGINE_POLL_MS: '200',
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    am = await startAlertmanager({
      webhookUrl: `http://127.0.0.1:${service.port}/webhooks/alertmanager`,
      bearerToken: TOKEN,
      groupWait: '1s',
      groupInterval: '1s',
      // Short, so the test sees Alertmanager resend the firing group.
      repeatInterval: '2s',
    });
  });
  afterAll(async () => {
    await am?.stop();
    await service?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts the run once, keeps resends out, and delivers the resolution', async () => {
    const startsAt = new Date().toISOString();
    const alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string }> = [
      { labels: { alertname: 'HighLatency', service: 'checkout', instance: 'a' }, annotations: { summary: 'p99 > 2s on a' }, startsAt },
      { labels: { alertname: 'HighLatency', service: 'checkout', instance: 'b' }, annotations: { summary: 'p99 > 2s on b' }, startsAt },
      { labels: { alertname: 'DiskFull', service: 'batch' }, annotations: { summary: 'disk' }, startsAt },
    ];
    await am.postAlerts(alerts);

    // The first notification, then at least one repeat_interval resend of the same group.
    await waitFor('a run to start', async () => (await service.ctx.ports.engine.listRuns()).length > 0);
    await waitFor('Alertmanager to resend the firing group', async () =>
      (await metric(/quench_ingest_dedup_hits_total\{source="alertmanager",level="delivery"\} (\d+)/)) >= 1 ? true : undefined,
    );
    const runs = await service.ctx.ports.engine.listRuns();
    expect(runs).toHaveLength(1);
    expect(runs[0]!.playbook).toBe('checkout-latency');
    const runId = runs[0]!.id;

    const outcomes = await rows<{ alert: string; outcome: string }>(
      sql`select event->'labels'->>'alertname' || '/' || coalesce(event->'labels'->>'instance', '') as alert, outcome from ingest_events order by alert`,
    );
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['joined', 'started', 'unrouted']);
    expect(outcomes.find((o) => o.alert === 'DiskFull/')!.outcome).toBe('unrouted');

    // Resolve: Alertmanager takes an endsAt in the past as resolution and notifies (send_resolved).
    const endsAt = new Date().toISOString();
    await am.postAlerts(alerts.map((a) => ({ ...a, endsAt })));
    const resolved = await waitFor('the run to receive alert.resolved and finish its wait', async () => {
      const run = await service.ctx.ports.engine.getRun(runId);
      const wait = run?.steps.find((s) => s.key === 'untilResolved');
      return wait?.status === 'succeeded' ? run : undefined;
    });
    expect(resolved.id).toBe(runId);
    const signals = await rows<{ type: string }>(sql`select type from engine_events where run_id = ${runId} order by seq`);
    expect(signals.map((s) => s.type)).toContain('alert.resolved');
    expect(signals.filter((s) => s.type === 'alert.attached')).toHaveLength(1);

    // Still one run for the whole episode, every delivery processed once, the trail intact.
    expect(await service.ctx.ports.engine.listRuns()).toHaveLength(1);
    // Alertmanager may have resent the group meanwhile: wait for every delivery to be processed,
    // then each must have been processed exactly once.
    const inbox = await waitFor('every delivery to be processed', async () => {
      const all = await rows<{ status: string; completions: number }>(sql`select status, completions from ingest_inbox`);
      return all.every((r) => r.status === 'done') ? all : undefined;
    });
    expect(inbox.map((r) => r.completions)).toEqual(inbox.map(() => 1));
    expect((await service.ctx.audit.verify()).ok).toBe(true);
  });
});
