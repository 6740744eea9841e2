import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { RunningService } from '../../src/service.js';
import { databaseKinds } from '../support/databases.js';
import { auditOf, type ServiceHarness, slashCommand, startServiceHarness, syntheticSlo } from './service-harness.js';

/**
 * Override four-eyes across channels: Ada is Slack user U0ADA (profile email ada@example.com)
 * and holds the token of QUENCH_API_TOKENS user `Ada@example.com`. She is one person, so she may
 * neither approve in one channel what she requested in the other, nor approve twice.
 */
const slo = syntheticSlo({
  name: 'shop-availability',
  service: 'shop',
  owner: '#shop-oncall',
  sli: `    script:
      - { at: "0", errorRatio: 0 }`,
});

const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const tokens = {
  'Ada@example.com': 'ada-token-0123456789abcdefghijklmnopqr',
  bob: 'bob-token-0123456789abcdefghijklmnopqr',
  carol: 'carol-token-0123456789abcdefghijklmnop',
};

describe.each(databaseKinds)('override four-eyes compares people, not channel names, on %s', (kind) => {
  let h: ServiceHarness;
  let service: RunningService;
  let base: string;
  const clock = new ManualClock(T0);

  const slash = (user: string, text: string) => slashCommand(base, clock, user, text);
  const api = async (path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as { id: string; approvers: string[]; error?: string; message?: string } };
  };
  const audit = (action: string) => auditOf(service, action);

  beforeAll(async () => {
    h = await startServiceHarness({
      kind,
      name: 'gate_people',
      files: { 'shop.yaml': slo },
      clock,
      tokens,
      playbooks: true,
      slack: {
        users: [
          { id: 'U0ADA', name: 'ada', email: 'ada@example.com' },
          { id: 'U0DAN', name: 'dan', email: 'dan@example.com' },
        ],
      },
    });
    ({ service, base } = h);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('requested in Slack, her token cannot approve it (403, audited); two other people can', async () => {
    const requested = await slash('U0ADA', 'override request shop 1h change=fix-1 hotfix');
    const id = /`(ovr_[^`]+)`/.exec(requested)![1]!;
    const self = await api(`/v1/overrides/${id}/approve`, tokens['Ada@example.com']);
    expect(self.status).toBe(403);
    expect(self.body).toMatchObject({ error: 'forbidden', message: expect.stringContaining('four-eyes') });
    const refused = (await audit('gate.override.refused')).filter((e) => e.subject.id === id);
    expect(refused.map((e) => [e.actor.id, (e.data as { code: string }).code])).toEqual([['Ada@example.com', 'forbidden']]);
    expect((await api(`/v1/overrides/${id}/approve`, tokens.bob)).status).toBe(200);
    expect(await slash('U0DAN', `override approve ${id}`)).toContain('in force');
    expect((await audit('gate.override.approved')).filter((e) => e.subject.id === id).map((e) => e.actor.id)).toEqual(['bob', 'slack:U0DAN']);
  });

  it('requested by token, she cannot approve it in Slack; nor approve twice, once per channel', async () => {
    const requested = await api('/v1/overrides', tokens.bob, { service: 'shop', change: 'fix-2', reason: 'hotfix', until: '1h' });
    expect(requested.status).toBe(201);
    expect(Object.keys(requested.body)).not.toContain('requesterAliases'); // emails stay out of the API
    const id = requested.body.id;
    expect((await api(`/v1/overrides/${id}/approve`, tokens['Ada@example.com'])).status).toBe(200);
    expect(await slash('U0ADA', `override approve ${id}`)).toMatch(/Refused: .*already approved/);
    const mine = await api('/v1/overrides', tokens['Ada@example.com'], { service: 'shop', change: 'fix-3', reason: 'hotfix', until: '1h' });
    expect(await slash('U0ADA', `override approve ${mine.body.id}`)).toMatch(/Refused: four-eyes/);
    const refused = (await audit('gate.override.refused')).filter((e) => e.subject.id === id || e.subject.id === mine.body.id);
    expect(refused.map((e) => [e.subject.id, e.actor.id])).toEqual([
      [id, 'slack:U0ADA'],
      [mine.body.id, 'slack:U0ADA'],
    ]);
    expect(await slash('U0DAN', `override approve ${id}`)).toContain('in force');
  });
});
