import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { databaseKinds } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';
import { type ServiceHarness, startServiceHarness } from './service-harness.js';

/**
 * `GET /v1/runs?before=` reads its time with the one strict RFC 3339 parser (src/core/rfc3339.ts):
 * an impossible date is refused, never rolled over (2026-02-30 is not 2 March); a time without
 * a zone is refused, never read in the machine's own zone; the answer names the value and says
 * what to write. What the route accepted stays accepted (Z, offsets, fractions, the `next`
 * cursor), as do the years 0001–9999 only. The service runs whole, under several TZ values.
 */
const token = 'alice-token-0123456789abcdefghijklmnop';
const probe = `apiVersion: quench/v1
kind: Playbook
metadata: { name: probe, owner: sre }
steps:
  - id: done
    kind: action
    action: log
    params: { message: done }
`;
const DAY1 = Date.parse('2026-03-01T12:00:00.000Z');
const DAY2 = Date.parse('2026-03-02T12:00:00.000Z');
const ZONES = ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Pacific/Kiritimati'];

describe.each(databaseKinds)('GET /v1/runs?before= on %s', (kind) => {
  let h: ServiceHarness;
  const clock = new ManualClock(DAY1);
  const savedTz = process.env.TZ;
  const ids: Record<string, string> = {};

  const get = async (before: string) => {
    const res = await fetch(`${h.base}/v1/runs?before=${encodeURIComponent(before)}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as { runs?: Array<{ id: string }>; next?: string | null; error?: string; message?: string } };
  };
  const listed = async (before: string) => {
    const { status, body } = await get(before);
    expect(status, `${before}: ${JSON.stringify(body)}`).toBe(200);
    return body.runs!.map((r) => r.id);
  };

  beforeAll(async () => {
    h = await startServiceHarness({ kind, name: 'runs_before', files: { 'probe.yaml': probe }, playbooks: true, clock, tokens: { alice: token }, env: { QUENCH_ENGINE_POLL_MS: '50' } });
    for (const [day, at] of [['first', DAY1], ['second', DAY2]] as const) {
      clock.set(at);
      const res = await fetch(`${h.base}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ playbook: 'probe' }) });
      expect(res.status).toBe(201);
      ids[day] = ((await res.json()) as { runId: string }).runId;
    }
    await waitFor('both runs to end', async () => {
      const res = await fetch(`${h.base}/v1/runs?state=succeeded`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { runs: unknown[] }).runs.length === 2 || undefined;
    });
  }, 300_000);
  afterAll(async () => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
    await h?.stop();
  });

  it('accepts what it accepted, meaning the same instant in every TZ', async () => {
    for (const zone of ZONES) {
      process.env.TZ = zone;
      expect(await listed('2026-03-02T12:00:00Z'), zone).toEqual([ids.first]);
      expect(await listed('2026-03-02T12:00:00.001Z'), zone).toEqual([ids.second, ids.first]);
      expect(await listed('2026-03-02T13:00:00+01:00'), zone).toEqual([ids.first]);
      expect(await listed('2026-03-02T04:00:00.001000001-08:00'), zone).toEqual([ids.second, ids.first]);
      // Read to the millisecond, as JavaScript and the API's own times are.
      expect(await listed('2026-03-02T12:00:00.000999Z'), zone).toEqual([ids.first]);
      expect(await listed('2026-03-01T12:00:00Z'), zone).toEqual([]);
      expect(await listed('9999-12-31T23:59:59.999Z'), zone).toEqual([ids.second, ids.first]);
      expect(await listed('0001-01-01T00:00:00Z'), zone).toEqual([]);
      // The cursor a page answers is the next page's before.
      const page = await get('2026-03-03T00:00:00Z');
      expect(page.body.next).toBe(new Date(DAY1).toISOString());
      expect(await listed(page.body.next!), zone).toEqual([]);
    }
  });

  it('reads a date alone as midnight UTC, in every TZ', async () => {
    for (const zone of ZONES) {
      process.env.TZ = zone;
      expect(await listed('2026-03-02'), zone).toEqual([ids.first]);
      expect(await listed('2026-03-03'), zone).toEqual([ids.second, ids.first]);
    }
  });

  it('refuses an impossible date or a zone-less time with 400, naming the value and what to write', async () => {
    for (const zone of ZONES) {
      process.env.TZ = zone;
      for (const [before, says, write] of [
        // Date.parse rolls these over to 2 March (and 1 May).
        ['2026-02-30', "before '2026-02-30' is not a calendar date: February 2026 has 28 days", 'write a day from 01 to 28'],
        ['2026-02-29T12:00:00Z', "before '2026-02-29T12:00:00Z' is not a calendar date: February 2026 has 28 days", 'write a day from 01 to 28'],
        ['2026-04-31T00:00:00+02:00', "before '2026-04-31T00:00:00+02:00' is not a calendar date: April 2026 has 30 days", 'write a day from 01 to 30'],
        ['2026-13-01T00:00:00Z', "before '2026-13-01T00:00:00Z' is not a calendar date: there is no month 13", 'write a month from 01 to 12'],
        // Date.parse reads these in the machine's own zone: another instant on each machine.
        ['2026-03-02T12:00:00', "before '2026-03-02T12:00:00' has no time zone", 'add Z for UTC (2026-03-02T12:00:00Z) or an offset such as +01:00'],
        ['2026-03-02T12:00', "before '2026-03-02T12:00' has no time zone", 'add Z for UTC (2026-03-02T12:00:00Z)'],
        ['2026-03-02 12:00:00.500', "before '2026-03-02 12:00:00.500' has no time zone", 'add Z for UTC'],
        // Neither a time nor storable (years 0001–9999, after the offset too).
        ['yesterday', "before 'yesterday' is not a time", 'write an RFC 3339 time such as 2026-11-23T09:00:00Z'],
        ['2026-03-02T24:00:00Z', "before '2026-03-02T24:00:00Z' is not a time of day", 'hours run 00-23'],
        ['0000-12-31T23:59:59Z', "before '0000-12-31T23:59:59Z' is out of range", 'years run from 0001 to 9999'],
        ['0001-01-01T00:00:00+01:00', "before '0001-01-01T00:00:00+01:00' is out of range", 'years run from 0001 to 9999'],
        ['10000-01-01T00:00:00Z', "before '10000-01-01T00:00:00Z' is not a time", 'write an RFC 3339 time'],
      ] as const) {
        const { status, body } = await get(before);
        expect(status, `${zone} ${before}: ${JSON.stringify(body)}`).toBe(400);
        expect(body.error).toBe('bad_request');
        expect(body.message, zone).toContain(says);
        expect(body.message, zone).toContain(write);
      }
    }
  });
});
