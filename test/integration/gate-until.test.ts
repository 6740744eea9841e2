import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { databaseKinds } from '../support/databases.js';
import { auditOf, cliWith, type ServiceHarness, slashCommand, startServiceHarness, syntheticSlo } from './service-harness.js';

/**
 * A freeze's or an override's end (`until`) over every way in — POST /v1/freezes and
 * /v1/overrides, `quench freeze|override request --until`, `/quench freeze|override request` —
 * with the service in a zone far from UTC (Asia/Kolkata, +05:30). Attacks: 2026-02-30, which
 * Date.parse rolled over to 2 March (a freeze that ended on a day nobody wrote), and
 * 2026-03-10T09:00:00 without a zone, which it read as 09:00 in the machine's zone (03:30 UTC
 * here, 09:00 UTC on a UTC host). Each is refused naming the value and nothing is stored.
 */
const slo = syntheticSlo({ name: 'shop-availability', service: 'shop', owner: '#shop-oncall', sli: '    script:\n      - { at: "0", errorRatio: 0 }' });
const T0 = Date.parse('2026-02-20T08:00:00.000Z');
const tokens = { alice: 'alice-token-0123456789abcdefghijklmnop', bob: 'bob-token-0123456789abcdefghijklmnopqr' };
const ZONE = 'Asia/Kolkata';
const ROLLED = '2026-02-30';
const ZONELESS = '2026-03-10T09:00:00';
const savedTz = process.env.TZ;

describe.each(databaseKinds)('deploy gate until on %s', (kind) => {
  let h: ServiceHarness;
  const clock = new ManualClock(T0);
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${h.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const cli = (args: string[]) => cliWith(args, { QUENCH_URL: h.base, QUENCH_TOKEN: tokens.alice });
  const nothingStored = async () => {
    expect(((await (await api('GET', '/v1/freezes')).json()) as { freezes: unknown[] }).freezes).toEqual([]);
    expect(((await (await api('GET', '/v1/overrides')).json()) as { overrides: unknown[] }).overrides).toEqual([]);
    expect(await auditOf(h.service, 'gate.freeze')).toEqual([]);
    expect(await auditOf(h.service, 'gate.override.requested')).toEqual([]);
    expect(h.slack.messages).toEqual([]);
  };

  beforeAll(async () => {
    process.env.TZ = ZONE;
    // The zone really is in effect: local midnight is not UTC midnight.
    expect(new Date(2026, 0, 1).getTime()).not.toBe(Date.UTC(2026, 0, 1));
    h = await startServiceHarness({ kind, name: 'gate_until', files: { 'shop.yaml': slo }, clock, tokens });
  });
  afterAll(async () => {
    await h?.stop();
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('HTTP: an impossible date or a time without a zone is 400 naming the value; nothing is stored', async () => {
    for (const path of ['/v1/freezes', '/v1/overrides']) {
      const body = path === '/v1/freezes' ? { services: ['shop'], reason: 'holiday' } : { service: 'shop', reason: 'hotfix' };
      const rolled = await api('POST', path, { ...body, until: ROLLED });
      const rolledBody = (await rolled.json()) as { message: string };
      expect(rolled.status, `${path} ${JSON.stringify(rolledBody)}`).toBe(400);
      expect(rolledBody.message).toContain(`'${ROLLED}' is not a calendar date: February 2026 has 28 days`);
      const zoneless = await api('POST', path, { ...body, until: ZONELESS });
      const zonelessBody = (await zoneless.json()) as { message: string };
      expect(zoneless.status, `${path} ${JSON.stringify(zonelessBody)}`).toBe(400);
      expect(zonelessBody.message).toContain(`'${ZONELESS}' has no time zone`);
      expect(zonelessBody.message).toContain('add Z for UTC (2026-03-10T09:00:00Z) or an offset such as +01:00');
    }
    await nothingStored();
  });

  it('CLI: quench freeze and override request exit non-zero with the message; nothing is stored', async () => {
    for (const until of [ROLLED, ZONELESS]) {
      for (const args of [
        ['freeze', 'shop', '--reason', 'holiday', '--until', until],
        ['override', 'request', 'shop', '--reason', 'hotfix', '--until', until],
      ]) {
        const out = await cli(args);
        expect(out.code, `${args.join(' ')}: ${out.stderr}`).not.toBe(0);
        expect(out.stdout).toBe('');
        expect(out.stderr).toContain(`'${until}'`);
        expect(out.stderr).toMatch(until === ROLLED ? /February 2026 has 28 days/ : /add Z for UTC .* or an offset/);
      }
    }
    await nothingStored();
  });

  it('Slack: /quench freeze and override request refuse with the message; nothing is stored', async () => {
    for (const until of [ROLLED, ZONELESS]) {
      for (const text of [`freeze shop ${until} holiday`, `override request shop ${until} hotfix`]) {
        const reply = await slashCommand(h.base, clock, 'U1', text);
        expect(reply, text).toContain('Refused');
        expect(reply, text).toContain(`'${until}'`);
      }
    }
    await nothingStored();
  });

  it('a time with an offset or Z, a date and a duration still freeze until the instant written', async () => {
    const made = await cli(['freeze', 'shop', '--reason', 'holiday', '--until', '2026-03-10T09:00:00+05:30']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('until 2026-03-10T03:30:00.000Z');
    const freeze = async (until: string) => {
      const res = await api('POST', '/v1/freezes', { services: ['shop'], reason: 'holiday', until });
      expect(res.status).toBe(201);
      return ((await res.json()) as { until: string }).until;
    };
    expect(await freeze('2026-03-10T09:00:00Z')).toBe('2026-03-10T09:00:00.000Z');
    expect(await freeze('2026-02-28')).toBe('2026-02-28T00:00:00.000Z');
    expect(await freeze('4h')).toBe(new Date(T0 + 4 * 3_600_000).toISOString());
    const override = await cli(['override', 'request', 'shop', '--reason', 'hotfix', '--until', '2026-02-21T00:00:00-08:00']);
    expect(override.code, override.stderr).toBe(0);
    expect(override.stdout).toContain('until 2026-02-21T08:00:00.000Z');
  });
});
