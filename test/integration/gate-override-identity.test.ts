import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { FORM, signedRequest, slashCommandBody } from '../support/slack-signer.js';
import { createPostgresDatabase, databaseKinds } from '../support/databases.js';

/**
 * Override four-eyes across channels: Ada is Slack user U0ADA (profile email ada@example.com)
 * and holds the token of QUENCH_API_TOKENS user `Ada@example.com`. She is one person, so she may
 * neither approve in one channel what she requested in the other, nor approve twice.
 */
const slo = `apiVersion: quench/v1
kind: SLO
metadata: { name: shop-availability }
service: shop
owner: { team: shop, slack: "#shop-oncall" }
objective: 99.9
window: 30d
sli:
  synthetic:
    requestsPerSecond: 10
    script:
      - { at: "0", errorRatio: 0 }
`;

const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const tokens = {
  'Ada@example.com': 'ada-token-0123456789abcdefghijklmnopqr',
  bob: 'bob-token-0123456789abcdefghijklmnopqr',
  carol: 'carol-token-0123456789abcdefghijklmnop',
};

describe.each(databaseKinds)('override four-eyes compares people, not channel names, on %s', (kind) => {
  let dir: string;
  let service: RunningService;
  let base: string;
  let slack: FakeSlack;
  const clock = new ManualClock(T0);
  let dropDatabase: (() => Promise<void>) | undefined;

  const slash = async (user: string, text: string) => {
    const body = slashCommandBody({ command: '/quench', text, user_id: user, user_name: user.toLowerCase(), channel_id: 'C1', trigger_id: `t-${Math.random()}`, team_id: 'T0QUENCH' });
    const req = signedRequest('signing-secret', body, { timestamp: Math.floor(clock.now().getTime() / 1000), contentType: FORM });
    const res = await fetch(`${base}/slack/events`, { method: 'POST', headers: req.headers, body });
    expect(res.status).toBe(200);
    return ((await res.json()) as { text: string }).text;
  };
  const api = async (path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as { id: string; approvers: string[]; error?: string; message?: string } };
  };
  const audit = async (action: string) => (await service.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === action);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-gate-people-'));
    writeFileSync(join(dir, 'shop.yaml'), slo);
    slack = await startFakeSlack({
      users: [
        { id: 'U0ADA', name: 'ada', email: 'ada@example.com' },
        { id: 'U0DAN', name: 'dan', email: 'dan@example.com' },
      ],
    });
    const pg = kind === 'postgres' ? await createPostgresDatabase('quench_gate_people') : undefined;
    dropDatabase = pg?.drop;
    const config = loadConfig({
      ...(pg ? { DATABASE_URL: pg.url } : {}),
      QUENCH_DATA_DIR: 'memory://',
      QUENCH_SLO_DIR: dir,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_EVAL_CRON: '0 0 1 1 *',
      QUENCH_API_TOKENS: Object.entries(tokens)
        .map(([u, t]) => `${u}=${t}`)
        .join(','),
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_SIGNING_SECRET: 'signing-secret',
      SLACK_API_URL: slack.url,
    });
    service = await startService(config, { logger: silentLogger, clock, port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${service.port}`;
  });
  afterAll(async () => {
    await service?.stop();
    await slack?.close();
    await dropDatabase?.();
    rmSync(dir, { recursive: true, force: true });
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
