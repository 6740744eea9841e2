import { webApi } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { chatHumanSteps, chatRunThreads } from '../../src/chat/schema.js';
import { slackChat } from '../../src/chat/slack/web.js';
import { ManualClock } from '../../src/core/clock.js';
import { drillScorecards } from '../../src/drills/schema.js';
import { engineDeadLetters, engineRuns, engineSteps } from '../../src/engine/schema.js';
import { gateFreezes, gateOverrides } from '../../src/gate/schema.js';
import type { ReportSlo } from '../../src/reports/core/facts.js';
import { counts, hours, percent, spreadText } from '../../src/reports/core/format.js';
import type { Report } from '../../src/reports/core/model.js';
import { renderHtml } from '../../src/reports/core/render-html.js';
import { renderMarkdown } from '../../src/reports/core/render-markdown.js';
import { renderSlack } from '../../src/reports/core/render-slack.js';
import { Reports } from '../../src/reports/reports.js';
import { reportPeriods } from '../../src/reports/schema.js';
import { sloSamples } from '../../src/slo/schema.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';

/**
 * A week of stored evaluations, alerts, freezes, overrides, runs, human steps, dead letters and
 * drills; every figure of the report is recomputed here from the seed, independently of
 * src/reports/core, and Markdown, HTML and Slack must carry the same numbers.
 */
const H = 3600_000;
const FROM = Date.parse('2026-11-23T09:00:00Z');
const TO = FROM + 7 * 24 * H;
const t = (hoursFromStart: number) => new Date(FROM + hoursFromStart * H);

const SLOS: ReportSlo[] = [
  { name: 'checkout-availability', service: 'checkout', objective: 0.999, window: '28d', windowMs: 28 * 24 * H, ownerChannel: 'C-CHECKOUT' },
  { name: 'search-latency', service: 'search', objective: 0.99, window: '14d', windowMs: 14 * 24 * H },
];

interface Seeded {
  samples: Array<{ slo: string; at: number; errors: number; total: number; budget: number; burn: number }>;
}

function sampleSeries(): Seeded['samples'] {
  const out: Seeded['samples'] = [];
  // 28 days before the period end up to the end, hourly for checkout, every 2 hours for search.
  for (let h = -21 * 24 + 1; h <= 7 * 24; h++) {
    out.push({ slo: 'checkout-availability', at: FROM + h * H, errors: (h + 600) % 5, total: 1000, budget: 0.9 - (h + 600) / 2000, burn: ((h + 600) % 7) / 2 });
    if (h % 2 === 0 && h > -7 * 24) out.push({ slo: 'search-latency', at: FROM + h * H, errors: (h + 400) % 13, total: 500, budget: 0.7 - (h + 400) / 5000, burn: ((h + 400) % 3) / 4 });
  }
  return out;
}

function nearestRank(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil(p * s.length) - 1]!;
}

describe.each(databaseKinds)('weekly SLO report on %s', (kind) => {
  let tdb: TestDatabase;
  let slack: FakeSlack;
  const clock = new ManualClock(FROM - 30 * 24 * H);
  const samples = sampleSeries();

  beforeAll(async () => {
    tdb = await freshDatabase(kind);
    slack = await startFakeSlack();
    const { orm } = tdb.db;
    for (let i = 0; i < samples.length; i += 500) {
      await orm.insert(sloSamples).values(
        samples.slice(i, i + 500).map((s) => ({
          slo: s.slo,
          at: new Date(s.at),
          windowStart: new Date(s.at - (s.slo === 'search-latency' ? 2 : 1) * H),
          resolutionS: s.slo === 'search-latency' ? 7200 : 3600,
          errors: s.errors,
          total: s.total,
          budgetRemaining: s.budget,
          burnRate: s.burn,
        })),
      );
    }
    const audit = createAuditTrail(tdb.db, clock);
    const at = async (when: Date, action: string, subject: { type: string; id: string }, data: Record<string, unknown> = {}) => {
      clock.set(when);
      await audit.append({ actor: { type: 'system', id: 'seed' }, action, subject, data });
    };
    const slo = (id: string) => ({ type: 'slo', id });
    await at(t(-5), 'slo.alert.firing', slo('checkout-availability'), { severity: 'page' }); // before: not counted
    await at(t(3), 'slo.alert.firing', slo('checkout-availability'), { severity: 'page' });
    await at(t(30), 'slo.alert.firing', slo('checkout-availability'), { severity: 'ticket' });
    await at(t(31), 'slo.alert.resolved', slo('checkout-availability'), { severity: 'ticket' });
    await at(t(100), 'slo.alert.firing', slo('checkout-availability'), { severity: 'page' });
    await at(t(50), 'slo.alert.firing', slo('search-latency'), { severity: 'ticket' });
    for (const h of [10, 20, 90]) await at(t(h), 'human_step.escalated', { type: 'step', id: `s${h}` });
    for (const h of [11, 95]) await at(t(h), 'human_step.reassigned', { type: 'step', id: `s${h}` });
    for (const id of ['auto-1', 'auto-2', 'auto-3']) await at(t(40), 'human_step.auto_approved', { type: 'step', id }, { sampledForReview: id === 'auto-2' });
    await orm.insert(gateOverrides).values([
      { id: 'ov-1', service: 'checkout', reason: 'fix', requestedBy: 'ada', approvers: ['bob'], createdAt: t(60), until: t(64) },
      { id: 'ov-2', service: 'checkout', reason: 'half', requestedBy: 'ada', approvers: [], createdAt: t(70), until: t(74) },
      { id: 'ov-3', service: 'search', reason: 'old', requestedBy: 'ada', approvers: ['bob'], createdAt: t(-30), until: t(-20) },
    ]);
    await at(t(61), 'gate.override.approved', { type: 'override', id: 'ov-1' }, { complete: true });
    await at(t(71), 'gate.override.approved', { type: 'override', id: 'ov-2' }, { complete: false });
    await at(t(-29), 'gate.override.approved', { type: 'override', id: 'ov-3' }, { complete: true });
    const freeze = (id: string, services: string[], sloName: string | null, start: Date, lifted: Date | null, until: Date | null) => ({
      id, kind: sloName ? 'auto' : 'manual', services, slo: sloName, blocks: 'high', reason: 'r', evidence: {}, createdBy: 'seed', createdAt: start, until, liftedAt: lifted,
    });
    await orm.insert(gateFreezes).values([
      freeze('f1', ['checkout'], null, t(-24), null, t(2)), // 2 h inside the period
      freeze('f2', ['checkout'], 'checkout-availability', t(24), t(24.5), null), // 30 min
      freeze('f3', ['*'], null, t(167), null, t(172)), // the last hour, every service
      freeze('f4', ['search'], null, t(10), t(13), null), // 3 h, search only
    ]);
    // Runs: created in the period (real and drill), one before it that ends inside.
    const run = (id: string, playbook: string, state: string, created: Date, ended: Date | null, drill = false) => ({
      id, playbook, playbookHash: 'h', definition: {}, state, inputs: {}, correlationId: id, startedBy: 'seed', createdAt: created, updatedAt: ended ?? created, endedAt: ended, drill: drill ? { fail: [] } : null,
    });
    await orm.insert(engineRuns).values([
      run('r1', 'checkout', 'succeeded', t(1), t(1.5)),
      run('r2', 'checkout', 'succeeded', t(5), t(7)),
      run('r3', 'checkout', 'compensated', t(8), t(9)),
      run('r4', 'search', 'succeeded', t(50), t(50.25)),
      run('r5', 'search', 'running', t(160), null),
      run('r0', 'checkout', 'succeeded', t(-2), t(1)), // ends inside: counted as finished, not started
      run('d1', 'checkout', 'compensated', t(70), t(71), true),
    ]);
    const step = (runId: string, key: string, role: string, status: string, started: boolean) => ({
      id: `${runId}-${key}`, runId, stepKey: key, kind: 'action', status, spec: { role }, createdAt: t(0), startedAt: started ? t(0) : null,
    });
    await orm.insert(engineSteps).values([
      step('r1', 'a', 'step', 'succeeded', true),
      step('r1', 'a-fb', 'fallback', 'pending', false), // a fallback never run: still first pass
      step('r2', 'a', 'step', 'failed', true),
      step('r2', 'a-fb', 'fallback', 'succeeded', true),
      step('r3', 'a', 'step', 'failed', true),
      step('r3', 'a-c', 'compensation', 'succeeded', true),
      step('r4', 'a', 'step', 'succeeded', true),
      step('r0', 'a', 'step', 'succeeded', true),
    ]);
    await orm.insert(chatRunThreads).values([
      { runId: 'r1', channel: 'C1', ts: '1', acknowledgedBy: 'ada', acknowledgedAt: new Date(t(1).getTime() + 120_000), updatedAt: t(1) },
      { runId: 'r2', channel: 'C1', ts: '2', acknowledgedBy: 'ada', acknowledgedAt: new Date(t(5).getTime() + 600_000), updatedAt: t(5) },
      { runId: 'r4', channel: 'C1', ts: '4', acknowledgedBy: 'bob', acknowledgedAt: new Date(t(50).getTime() + 45_000), updatedAt: t(50) },
      { runId: 'r5', channel: 'C1', ts: '5', acknowledgedBy: null, acknowledgedAt: null, updatedAt: t(160) },
    ]);
    const human = (stepId: string, queued: number, offeredAfterS: number | null, decidedAfterS: number | null, withinMs: number | null, flagged = false) => {
      const q = t(queued);
      const offered = offeredAfterS === null ? null : new Date(q.getTime() + offeredAfterS * 1000);
      return {
        stepId, runId: 'r1', correlationId: 'c', view: {}, playbook: 'checkout', status: 'decided', assignees: [],
        sla: withinMs === null ? null : { withinMs, remindAt: 0.5, escalateTo: null, reassign: false },
        queuedAt: q, offeredAt: offered, decidedAt: decidedAfterS === null || !offered ? null : new Date(offered.getTime() + decidedAfterS * 1000), flaggedForReview: flagged,
      };
    };
    await orm.insert(chatHumanSteps).values([
      human('h1', 2, 30, 300, 600_000), // within SLA
      human('h2', 6, 0, 900, 600_000), // breached (900 s > 600 s)
      human('h3', 20, 120, 60, null),
      human('h4', 165, 10, null, 3_600_000), // open at the end: 2 h 59 m 50 s > 1 h, breached
      human('h0', -3, 5, 5, 1000), // queued before the period: not counted
      { ...human('auto-1', 40, null, null, null), offeredAt: null, decidedAt: t(40) },
      { ...human('auto-2', 40, null, null, null, true), offeredAt: null, decidedAt: t(40) },
      { ...human('auto-3', 40, null, null, null), offeredAt: null, decidedAt: t(40) },
    ]);
    const dead = (id: string, created: Date) => ({ id, runId: 'r2', stepId: 'r2-a', stepKey: 'a', attempts: 3, reason: 'retries_exhausted', error: {}, context: {}, correlationId: 'c', createdAt: created });
    await orm.insert(engineDeadLetters).values([dead('dl1', t(6)), dead('dl2', t(8.5)), dead('dl0', t(-1))]);
    const card = (runId: string, state: string, gaps: number, ended: Date) => ({ runId, playbook: 'checkout', finalState: state, gaps, scorecard: {} as never, startedAt: t(69), endedAt: ended, scoredAt: ended });
    await orm.insert(drillScorecards).values([card('d1', 'compensated', 2, t(71)), card('d2', 'succeeded', 0, t(120)), card('d9', 'failed', 1, t(-10))]);
  }, 300_000);

  afterAll(async () => {
    await slack?.close();
    await tdb?.dispose();
  });

  const reportsFor = (who: string) =>
    new Reports({
      db: tdb.db,
      clock,
      logger: createLogger('silent', 'stderr'),
      audit: createAuditTrail(tdb.db, clock),
      slos: () => SLOS,
      chat: () => slackChat(new webApi.WebClient('xoxb-test-token', { slackApiUrl: `${slack.url}/`, retryConfig: { retries: 0 } })),
      channel: 'C-REPORTS',
      who,
    });

  it('computes every figure as recomputed from the seed, and every format carries them', async () => {
    clock.set(TO + H);
    const { report, computed } = await reportsFor('replica-a').produce(new Date(FROM), new Date(TO), 'on_demand', true);
    expect(computed).toBe(true);

    // --- SLO figures, recomputed from the seed ---
    for (const slo of SLOS) {
      const own = samples.filter((s) => s.slo === slo.name);
      const inPeriod = own.filter((s) => s.at > FROM && s.at <= TO);
      const inWindow = own.filter((s) => s.at > TO - slo.windowMs && s.at <= TO);
      const att = (xs: typeof own) => 1 - xs.reduce((n, s) => n + s.errors, 0) / xs.reduce((n, s) => n + s.total, 0);
      const before = (at: number) => own.filter((s) => s.at <= at).sort((a, b) => b.at - a.at)[0]!.budget;
      const r = report.slos.find((s) => s.slo === slo.name)!;
      expect(r.attainment).toBeCloseTo(att(inPeriod), 12);
      expect(r.windowAttainment).toBeCloseTo(att(inWindow), 12);
      expect(r.met).toBe(att(inPeriod) >= slo.objective);
      expect(r.budgetAtStart).toBeCloseTo(before(FROM), 6);
      expect(r.budgetAtEnd).toBeCloseTo(before(TO), 6);
      expect(r.burnDown).toHaveLength(inPeriod.length);
      expect(r.burnDown.at(-1)!.burnRate).toBeCloseTo(inPeriod.at(-1)!.burn, 6);
    }
    const checkout = report.slos.find((s) => s.slo === 'checkout-availability')!;
    const search = report.slos.find((s) => s.slo === 'search-latency')!;
    expect(checkout.alertsFired).toEqual({ page: 2, ticket: 1 });
    expect(search.alertsFired).toEqual({ ticket: 1 });
    expect(checkout.freezes).toEqual({ count: 3, totalSeconds: (2 + 0.5 + 1) * 3600 });
    expect(search.freezes).toEqual({ count: 2, totalSeconds: (3 + 1) * 3600 });
    expect(checkout.overridesGranted).toBe(1);
    expect(search.overridesGranted).toBe(0);

    // --- Response figures ---
    const x = report.response;
    expect(x.runsStarted).toEqual({ checkout: 3, search: 2 });
    expect(x.timeToAcknowledge).toEqual({ count: 3, median: nearestRank([120, 600, 45], 0.5), p90: nearestRank([120, 600, 45], 0.9) });
    const resolve = [0.5, 2, 1, 0.25, 3].map((h) => h * 3600);
    expect(x.timeToResolve).toEqual({ count: 5, median: nearestRank(resolve, 0.5), p90: nearestRank(resolve, 0.9) });
    expect(x.humanQueueTime).toEqual({ count: 4, median: nearestRank([30, 0, 120, 10], 0.5), p90: nearestRank([30, 0, 120, 10], 0.9) });
    expect(x.humanDecisionTime).toEqual({ count: 3, median: nearestRank([300, 900, 60], 0.5), p90: nearestRank([300, 900, 60], 0.9) });
    expect(x.slaBreaches).toBe(2);
    expect(x.escalations).toBe(3);
    expect(x.reassignments).toBe(2);
    // Finished in the period: r0, r1, r4 first pass; r2 (failed step + fallback) and r3 (compensated) not.
    expect(x.firstPassYield).toEqual({ finished: 5, firstPass: 3, ratio: 3 / 5 });
    expect(x.deadLetteredSteps).toBe(2);
    expect(x.autoApprovals).toEqual({ total: 3, sampledForReview: 1 });
    expect(x.drills).toEqual({
      run: 2,
      byFinalState: { compensated: 1, succeeded: 1 },
      gapsFound: 2,
      runs: expect.arrayContaining([expect.objectContaining({ runId: 'd1', gaps: 2 }), expect.objectContaining({ runId: 'd2', gaps: 0 })]) as unknown,
    });

    // --- Every format carries the same numbers ---
    const md = renderMarkdown(report);
    const html = renderHtml(report);
    const posted = slack.messages.filter((m) => m.channel === 'C-REPORTS');
    expect(posted).toHaveLength(1);
    const slackText = JSON.stringify(posted[0]!.blocks);
    const owner = slack.messages.filter((m) => m.channel === 'C-CHECKOUT');
    expect(owner).toHaveLength(1);
    expect(JSON.stringify(owner[0]!.blocks)).toContain('checkout-availability');
    expect(JSON.stringify(owner[0]!.blocks)).not.toContain('search-latency');
    const figures = [
      ...report.slos.flatMap((s) => [percent(s.attainment), percent(s.windowAttainment), percent(s.budgetAtStart), percent(s.budgetAtEnd), counts(s.alertsFired), hours(s.freezes.totalSeconds)]),
      counts(x.runsStarted),
      spreadText(x.timeToAcknowledge),
      spreadText(x.timeToResolve),
      spreadText(x.humanQueueTime),
      spreadText(x.humanDecisionTime),
      `${x.firstPassYield.firstPass}/${x.firstPassYield.finished}`,
      percent(x.firstPassYield.ratio),
      `${x.autoApprovals.total} (${x.autoApprovals.sampledForReview} sampled for review)`,
      `${x.drills!.run} (${counts(x.drills!.byFinalState)})`,
    ];
    const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    for (const f of figures) {
      expect(md).toContain(f);
      expect(html).toContain(escapeHtml(f));
      expect(slackText).toContain(f);
    }
    for (const [label, n] of [['SLA breaches', x.slaBreaches], ['Escalations', x.escalations], ['Dead-lettered steps', x.deadLetteredSteps]] as const) {
      expect(md).toContain(`${label}: ${n}`);
      expect(html).toContain(`<th>${label}</th><td>${n}</td>`);
    }
    expect(slackText).toContain(`SLA breaches ${x.slaBreaches} · escalations ${x.escalations} · reassignments ${x.reassignments}`);
    expect(renderSlack(report)).toEqual([{ text: posted[0]!.text, blocks: posted[0]!.blocks }]);
  }, 300_000);

  it('a past period is served as stored, and two replicas or a double cron fire produce one report', async () => {
    const first = (await reportsFor('replica-a').produce(new Date(FROM), new Date(TO), 'on_demand')) as { report: Report; computed: boolean };
    expect(first.computed).toBe(false);
    // A late-arriving row for the period must not change the stored report.
    await tdb.db.orm.insert(engineDeadLetters).values({ id: 'late', runId: 'r2', stepId: 'r2-a', stepKey: 'a', attempts: 3, reason: 'x', error: {}, context: {}, correlationId: 'c', createdAt: t(100) });
    const again = await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand');
    expect(again.report).toEqual(first.report);
    expect(again.report.response.deadLetteredSteps).toBe(2);

    // The next week's firing, on two replicas at once and twice on one: one row, one post.
    clock.set(TO + 7 * 24 * H + 5_000);
    const before = slack.messages.filter((m) => m.channel === 'C-REPORTS').length;
    const fireAt = new Date(TO + 7 * 24 * H + 1_000);
    await Promise.all([reportsFor('replica-a').scheduled(fireAt), reportsFor('replica-b').scheduled(fireAt), reportsFor('replica-a').scheduled(new Date(fireAt.getTime() + 2_000))]);
    const rows = await tdb.db.orm.select().from(reportPeriods);
    const scheduled = rows.filter((r) => r.origin === 'scheduled');
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]!.periodEnd.getTime()).toBe(TO + 7 * 24 * H);
    expect(slack.messages.filter((m) => m.channel === 'C-REPORTS').length).toBe(before + 1);

    // Down for two weekly firings: on coming back the missed weeks are produced.
    clock.set(TO + 3 * 7 * 24 * H + 3 * H);
    expect(await reportsFor('replica-a').catchUp(clock.now())).toBe(2);
    const after = (await tdb.db.orm.select().from(reportPeriods)).filter((r) => r.origin === 'scheduled').map((r) => r.periodEnd.getTime()).sort();
    expect(after).toEqual([TO + 7 * 24 * H, TO + 14 * 24 * H, TO + 21 * 24 * H]);
  }, 300_000);
});
