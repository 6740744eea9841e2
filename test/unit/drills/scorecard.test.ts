import { describe, expect, it } from 'vitest';
import { scoreDrill, scorecardText } from '../../../src/drills/core/scorecard.js';
import type { Playbook } from '../../../src/playbooks/core/model.js';

const t0 = Date.parse('2026-03-02T08:00:00.000Z');
const at = (s: number) => new Date(t0 + s * 1000);

const definition = {
  apiVersion: 'quench/v1',
  kind: 'Playbook',
  metadata: { name: 'p', owner: 'team' },
  inputs: {},
  triggers: [],
  steps: [
    { id: 'ask', kind: 'human', type: 'approve', prompt: 'ok?', sla: { within: '1m', remindAt: 0.5, reassign: false } },
    { id: 'change', kind: 'action', action: 'exec', params: {}, risk: 'high', timeout: '30s', compensate: { action: 'exec', params: {} } },
    { id: 'scale', kind: 'action', action: 'exec', params: {}, risk: 'medium' },
    { id: 'read', kind: 'action', action: 'http.request', params: { method: 'GET' } },
    { id: 'verify', kind: 'action', action: 'slo.check', params: {} },
  ],
} as unknown as Playbook;

const step = (key: string, kind: string, status: string, from: number, to: number, extra: Record<string, unknown> = {}) => ({
  key,
  kind,
  status,
  output: null,
  error: null,
  decision: null,
  createdAt: at(from),
  startedAt: at(from),
  endedAt: at(to),
  ...extra,
});

describe('drill scorecard', () => {
  const card = scoreDrill({
    id: 'r1',
    playbook: 'p',
    state: 'compensated',
    definition,
    createdAt: at(0),
    endedAt: at(200),
    steps: [
      step('ask', 'human', 'succeeded', 1, 91, { decision: { approvals: [{ by: 'bob', at: at(91).toISOString() }], final: { by: 'bob', at: at(91).toISOString() } } }),
      step('ask/escalate', 'action', 'succeeded', 61, 62),
      step('change', 'action', 'succeeded', 92, 93, { output: { simulated: true } }),
      step('verify', 'action', 'failed', 94, 95, { error: { code: 'drill_failure' } }),
      step('change/compensate', 'action', 'succeeded', 96, 97),
    ],
  });

  it('measures acknowledgement, durations against SLAs, injections, escalations and compensations', () => {
    expect(card.timeToFirstAckMs).toBe(91_000);
    expect(card.steps.find((s) => s.key === 'ask')).toMatchObject({ durationMs: 90_000, slaMs: 60_000, breached: true });
    expect(card.steps.find((s) => s.key === 'change')).toMatchObject({ durationMs: 1000, slaMs: 30_000, breached: false, simulated: true });
    expect(card.failuresInjected).toEqual(['verify']);
    expect(card.escalations).toEqual(['ask']);
    expect(card.compensations).toEqual([{ step: 'change', status: 'succeeded', succeeded: true }]);
    expect(card.finalState).toBe('compensated');
  });

  it('finds the gaps: no owner, state change without compensation, SLA breached', () => {
    expect(card.gaps.map((g) => `${g.kind}:${g.step}`)).toEqual(['no_owner:ask', 'no_compensation:scale', 'sla_breached:ask']);
  });

  it('says it all as text', () => {
    const text = scorecardText(card);
    expect(text).toContain('DRILL scorecard: p ended compensated');
    expect(text).toContain('time to first acknowledgement: 91s');
    expect(text).toMatch(/ask\s+succeeded\s+90s \/ SLA 60s BREACHED/);
    expect(text).toContain('compensations: change succeeded');
  });

  it('reports no acknowledgement when no human step was answered', () => {
    expect(scoreDrill({ id: 'r', playbook: 'p', state: 'failed', definition, createdAt: at(0), endedAt: at(1), steps: [] }).timeToFirstAckMs).toBeNull();
  });
});

describe('drill scorecard: compensation order, acknowledgements, drillSafe reads, retries', () => {
  const base = {
    apiVersion: 'quench/v1',
    kind: 'Playbook',
    metadata: { name: 'q', owner: 'team' },
    inputs: {},
    triggers: [],
    steps: [
      { id: 'a', kind: 'action', action: 'exec', params: {}, compensate: { action: 'exec', params: {} } },
      { id: 'b', kind: 'action', action: 'exec', params: {}, compensate: { action: 'exec', params: {} } },
      { id: 'look', kind: 'action', action: 'exec', params: {}, drillSafe: true },
      { id: 'c', kind: 'action', action: 'exec', params: {}, retry: { maxAttempts: 3 } },
    ],
  } as unknown as Playbook;
  const card = scoreDrill({
    id: 'r2',
    playbook: 'q',
    state: 'compensated',
    definition: base,
    createdAt: at(0),
    endedAt: at(60),
    acknowledgedAt: at(7),
    steps: [
      // Rows tie on time (a fast saga): the plan's order decides, not the key.
      step('a/compensate', 'action', 'succeeded', 50, 50, { spec: { role: 'compensation', order: 1 } }),
      step('b/compensate', 'action', 'succeeded', 50, 50, { spec: { role: 'compensation', order: 0 } }),
      step('c', 'action', 'failed', 10, 40, { attempts: 3, error: { code: 'timeout', details: { injected: true } } }),
      step('b/fallback', 'action', 'succeeded', 5, 6),
    ],
  });

  it('lists compensations in the order the saga ran them', () => {
    expect(card.compensations.map((c) => c.step)).toEqual(['b', 'a']);
  });
  it('counts an explicit acknowledgement as the first acknowledgement', () => {
    expect(card.timeToFirstAckMs).toBe(7_000);
  });
  it('recognises an injected failure by its mark, whatever its code, and the retries it exercised', () => {
    expect(card.failuresInjected).toEqual(['c']);
    expect(card.retried).toEqual(['c']);
    expect(card.fallbacks).toEqual(['b']);
  });
  it('a drillSafe step is a read: no no_compensation gap; an unmarked exec without compensate is one', () => {
    expect(card.gaps.filter((g) => g.kind === 'no_compensation').map((g) => g.step)).toEqual(['c']);
  });
});

describe('drill scorecard: fallbacks of both forms', () => {
  const definition = {
    apiVersion: 'quench/v1',
    kind: 'Playbook',
    metadata: { name: 'f', owner: 'team' },
    inputs: {},
    triggers: [],
    steps: [
      {
        id: 'fb',
        kind: 'action',
        action: 'log',
        params: {},
        fallback: {
          steps: [
            { id: 'fbinner', kind: 'action', action: 'exec', params: {}, timeout: '10s' },
            { id: 'fbask', kind: 'human', type: 'approve', prompt: 'ok?', sla: { within: '1m', remindAt: 0.5, reassign: false } },
          ],
        },
      },
      { id: 'single', kind: 'action', action: 'log', params: {}, fallback: { action: 'log', params: {} } },
      {
        id: 'outer',
        kind: 'action',
        action: 'log',
        params: {},
        fallback: { steps: [{ id: 'middle', kind: 'action', action: 'log', params: {}, fallback: { steps: [{ id: 'deepest', kind: 'action', action: 'log', params: {} }] } }] },
      },
      { id: 'quiet', kind: 'action', action: 'log', params: {}, fallback: { steps: [{ id: 'unused', kind: 'action', action: 'log', params: {} }] } },
    ],
  } as unknown as Playbook;
  const run = (steps: ReturnType<typeof step>[]) =>
    scoreDrill({ id: 'r3', playbook: 'f', state: 'succeeded', definition, createdAt: at(0), endedAt: at(100), steps });

  const card = run([
    step('fb', 'action', 'failed', 1, 2, { error: { code: 'drill_failure' } }),
    step('fbinner', 'action', 'succeeded', 3, 23),
    step('fbask', 'human', 'succeeded', 24, 30),
    step('single', 'action', 'failed', 31, 32),
    step('single/fallback', 'action', 'succeeded', 33, 34),
    step('quiet', 'action', 'succeeded', 35, 36),
  ]);

  it('counts a {steps: [...]} fallback by the rows of its steps, beside an {action} fallback', () => {
    expect(card.fallbacks).toEqual(['fb', 'single']);
    expect(scorecardText(card)).toContain('fallbacks: fb, single\n');
  });

  it('scores the steps of a fallback list: their SLAs and their gaps', () => {
    expect(card.steps.find((s) => s.key === 'fbinner')).toMatchObject({ durationMs: 20_000, slaMs: 10_000, breached: true });
    expect(card.steps.find((s) => s.key === 'fbask')).toMatchObject({ slaMs: 60_000, breached: false });
    const gaps = card.gaps.map((g) => `${g.kind}:${g.step}`);
    expect(gaps).toContain('no_compensation:fbinner');
    expect(gaps).toContain('no_owner:fbask');
    expect(gaps).toContain('sla_breached:fbinner');
  });

  it('counts nested fallback lists, the outer one first', () => {
    const nested = run([
      step('outer', 'action', 'failed', 1, 2),
      step('middle', 'action', 'failed', 3, 4),
      step('deepest', 'action', 'succeeded', 5, 6),
    ]);
    expect(nested.fallbacks).toEqual(['outer', 'middle']);
  });

  it('counts no fallback when none ran', () => {
    expect(run([step('quiet', 'action', 'succeeded', 1, 2)]).fallbacks).toEqual([]);
  });
});
