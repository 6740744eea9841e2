import { afterEach, describe, expect, it } from 'vitest';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { databaseKinds } from '../support/databases.js';
import { childEnv, runCli } from '../support/quench-process.js';
import { approvalSteps, CHANNEL, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Issue 15: `/quench ack RUN` acknowledges the PagerDuty incident the run triggered (Events API
 * v2 `acknowledge` with the trigger's dedup key, on the fake that speaks PagerDuty's wire
 * format), says so clearly when there is none, and `POST /v1/runs/:id/ack` takes the same
 * decision. Every acknowledgement is audited with who and how.
 */
const paging = (extra: PlaybookSource['steps'] = []): PlaybookSource['steps'] =>
  [
    { id: 'page', kind: 'action', action: 'pagerduty.trigger', params: { summary: 'Checkout error budget burning', severity: 'critical' } },
    ...extra,
    ...approvalSteps(),
  ] as PlaybookSource['steps'];

const ADA_TOKEN = 'tok-ada-0123456789abcdef0123456789ab';

describe.each(databaseKinds)('acknowledging a run and its PagerDuty incident (%s)', (kind) => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  /** `/quench ack`: the immediate answer, then the ephemeral result once PagerDuty answered. */
  const ack = async (user: 'bob' | 'eve', runId: string) => {
    const before = h.slack.callsTo('chat.postEphemeral').length;
    const res = await h.command(user, `ack ${runId}`);
    const immediate = (await res.json()) as { response_type: string; text: string };
    await h.settle();
    const ephemeral = h.slack.callsTo('chat.postEphemeral').slice(before);
    expect(ephemeral).toHaveLength(1);
    return { immediate, later: ephemeral[0]!.args as { user: string; channel: string; text: string } };
  };

  it('acknowledges the incident the run triggered, with its dedup key, and shows who on the thread', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(paging());
    const run = (await h.ctx.ports.engine.getRun(runId))!;
    const incident = [...h.pd.incidents.values()].find((i) => i.incidentKey === run.correlationId)!;
    expect(incident.status).toBe('triggered');

    const { immediate, later } = await ack('bob', runId);
    expect(immediate).toEqual({ response_type: 'ephemeral', text: `Acknowledging run \`${runId}\`…` });
    expect(later).toMatchObject({ user: 'U0BOB', channel: CHANNEL });
    expect(later.text).toContain(`Run \`${runId}\` acknowledged by bob (<@U0BOB>).`);
    expect(later.text).toContain(`PagerDuty incident \`${run.correlationId}\` (triggered by step page) acknowledged.`);

    // On the wire: an Events API v2 acknowledge with the routing key and the trigger's dedup key.
    const sent = h.pd.events.filter((e) => e.event_action === 'acknowledge');
    expect(sent).toEqual([{ routing_key: 'R0UTINGKEY0000000000000000000000', event_action: 'acknowledge', dedup_key: run.correlationId }]);
    expect(incident.status).toBe('acknowledged');

    const header = h.slack.messages.find((m) => m.channel === CHANNEL && !m.threadTs)!;
    expect(JSON.stringify(h.slack.message(header.channel, header.ts)!.blocks)).toContain('Acknowledged by bob (<@U0BOB>)');
    const entry = (await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === 'run.acknowledged')!;
    expect(entry.actor).toEqual({ type: 'user', id: 'U0BOB' });
    expect(entry.data).toMatchObject({
      via: 'slack',
      first: true,
      pagerduty: [{ status: 'acknowledged', dedupKey: run.correlationId, triggeredBy: 'page' }],
    });

    // A second person: the thread keeps the first name, PagerDuty gets the (idempotent) acknowledge again.
    const second = await ack('eve', runId);
    expect(second.later.text).toContain('was already acknowledged by bob (<@U0BOB>)');
    expect(h.pd.events.filter((e) => e.event_action === 'acknowledge')).toHaveLength(2);
  }, 120_000);

  it('says clearly, only to the person, when the run triggered no PagerDuty incident', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(approvalSteps());
    const { later } = await ack('bob', runId);
    expect(later.text).toContain('It triggered no PagerDuty incident, so there is nothing to acknowledge in PagerDuty.');
    expect(h.pd.events.filter((e) => e.event_action === 'acknowledge')).toEqual([]);
    expect(h.slack.callsTo('chat.postMessage').some((c) => String(c.args.text).includes('nothing to acknowledge'))).toBe(false);
  });

  it('does not acknowledge an incident a later step resolved, and names an unknown run', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(paging([{ id: 'unpage', kind: 'action', action: 'pagerduty.resolve', params: {} }] as PlaybookSource['steps']));
    const { later } = await ack('bob', runId);
    expect(later.text).toMatch(/PagerDuty incident `[^`]+` was already resolved \(step unpage\); nothing to acknowledge\./);
    expect(h.pd.events.filter((e) => e.event_action === 'acknowledge')).toEqual([]);

    const unknown = await ack('bob', 'no-such-run');
    expect(unknown.later.text).toContain('no run with id no-such-run');
  });

  it('tells the person when PagerDuty cannot be reached, and audits the failure', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(paging());
    await h.pd.close();
    const { later } = await ack('bob', runId);
    expect(later.text).toMatch(/PagerDuty incident `[^`]+` NOT acknowledged: PagerDuty Events API unreachable/);
    const entry = (await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === 'run.acknowledged')!;
    expect((entry.data as { pagerduty: Array<{ status: string }> }).pagerduty[0]!.status).toBe('failed');
  });

  it('POST /v1/runs/:id/ack takes the same decision as the token user; a read of no token is refused', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(paging());
    const run = (await h.ctx.ports.engine.getRun(runId))!;
    const post = (id: string, token?: string) =>
      fetch(`${h.url}/v1/runs/${id}/ack`, { method: 'POST', headers: token ? { Authorization: `Bearer ${token}` } : {} });

    expect((await post(runId)).status).toBe(401);
    const res = await post(runId, ADA_TOKEN);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      runId,
      by: 'ada@example.com',
      first: true,
      pagerduty: [{ status: 'acknowledged', dedupKey: run.correlationId, triggeredBy: 'page' }],
    });
    expect([...h.pd.incidents.values()].find((i) => i.incidentKey === run.correlationId)!.status).toBe('acknowledged');
    const entry = (await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === 'run.acknowledged')!;
    expect(entry).toMatchObject({ actor: { type: 'user', id: 'ada@example.com' }, data: { via: 'api' } });
    expect((await post('no-such-run', ADA_TOKEN)).status).toBe(404);
  });

  it.runIf(kind === 'postgres')('quench ack on the database (no service) takes the same decision, as the token user, via cli', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(paging());
    const run = (await h.ctx.ports.engine.getRun(runId))!;
    const env = childEnv({
      DATABASE_URL: h.databaseUrl,
      QUENCH_API_TOKENS: `ada@example.com=${ADA_TOKEN}`,
      QUENCH_TOKEN: ADA_TOKEN,
      PAGERDUTY_ROUTING_KEY: 'R0UTINGKEY0000000000000000000000',
      PAGERDUTY_EVENTS_URL: h.pd.eventsUrl,
      LOG_LEVEL: 'warn',
    });
    const acked = await runCli(['ack', runId, '--json'], env);
    expect(acked.stderr).toBe('');
    expect(acked.code).toBe(0);
    expect(JSON.parse(acked.stdout)).toMatchObject({ runId, by: 'ada@example.com', pagerduty: [{ status: 'acknowledged', dedupKey: run.correlationId }] });
    expect([...h.pd.incidents.values()].find((i) => i.incidentKey === run.correlationId)!.status).toBe('acknowledged');
    const entry = (await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === 'run.acknowledged')!;
    expect(entry).toMatchObject({ actor: { type: 'user', id: 'ada@example.com' }, data: { via: 'cli' } });
    // PagerDuty unreachable: said, and exit 1.
    const down = await runCli(['ack', runId], { ...env, PAGERDUTY_EVENTS_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/NOT acknowledged: PagerDuty Events API unreachable/);
  }, 120_000);
});
