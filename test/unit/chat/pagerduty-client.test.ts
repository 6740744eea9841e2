import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isQuenchError } from '../../../src/core/errors.js';
import { PagerDutyDirectory } from '../../../src/pagerduty/directory.js';
import { PagerDutyEvents } from '../../../src/pagerduty/events.js';
import { PagerDutyRest } from '../../../src/pagerduty/rest.js';
import { type FakePagerDuty, startFakePagerDuty } from '../../support/fake-pagerduty.js';

const ROUTING_KEY = 'R0UTINGKEY0000000000000000000000';

describe('PagerDuty clients against the local fake', () => {
  let pd: FakePagerDuty;
  beforeEach(async () => {
    pd = await startFakePagerDuty({
      users: [
        { id: 'PU1', name: 'Ada Oncall', email: 'ada@example.com' },
        { id: 'PU2', name: 'Bob Second', email: 'bob@example.com' },
        { id: 'PU3', name: 'Cy Sched', email: 'cy@example.com' },
      ],
      schedules: [{ id: 'PS1', name: 'Primary', oncall: 'PU3' }],
      policies: [
        {
          id: 'PEP1',
          name: 'Checkout',
          rules: [
            { delayMinutes: 10, targets: [{ type: 'user', id: 'PU1' }] },
            { delayMinutes: 10, targets: [{ type: 'user', id: 'PU2' }] },
          ],
        },
        // PagerDuty lists a schedule's on-call only through a policy that targets it.
        { id: 'PEP2', name: 'Payments', rules: [{ delayMinutes: 5, targets: [{ type: 'schedule', id: 'PS1' }] }] },
      ],
    });
  });
  afterEach(async () => pd.close());

  const directory = () => new PagerDutyDirectory(new PagerDutyRest({ token: 'pd-test-token', baseUrl: pd.apiUrl }));

  it('finds the on-call at each escalation level and for a schedule, with emails', async () => {
    expect(await directory().oncall({ escalationPolicy: 'PEP1' })).toEqual([{ id: 'PU1', name: 'Ada Oncall', email: 'ada@example.com' }]);
    expect(await directory().oncall({ escalationPolicy: 'PEP1', level: 2 })).toEqual([
      { id: 'PU2', name: 'Bob Second', email: 'bob@example.com' },
    ]);
    expect((await directory().oncall({ schedule: 'PS1' })).map((p) => p.email)).toEqual(['cy@example.com']);
    pd.setOncall('PS1', 'PU1');
    expect((await directory().oncall({ schedule: 'PS1' })).map((p) => p.email)).toEqual(['ada@example.com']);
    expect(await directory().levels('PEP1')).toBe(2);
    const auth = pd.requests.map((r) => r.headers.authorization);
    expect(new Set(auth)).toEqual(new Set(['Token token=pd-test-token']));
  });

  it('refuses a wrong token with an actionable error', async () => {
    const bad = new PagerDutyDirectory(new PagerDutyRest({ token: 'nope', baseUrl: pd.apiUrl }));
    const err = await bad.oncall({ escalationPolicy: 'PEP1' }).catch((e) => e);
    expect(isQuenchError(err, 'forbidden')).toBe(true);
    expect(err.message).toContain('PAGERDUTY_TOKEN');
  });

  it('triggers, acknowledges and resolves one alert by dedup key; repeats are harmless', async () => {
    const events = new PagerDutyEvents({ routingKey: ROUTING_KEY, baseUrl: pd.eventsUrl });
    const first = await events.send({ action: 'trigger', dedupKey: 'corr-1', summary: 'checkout down', severity: 'critical' });
    await events.send({ action: 'trigger', dedupKey: 'corr-1', summary: 'checkout down', severity: 'critical' });
    expect(first.dedupKey).toBe('corr-1');
    expect(pd.incidents.size).toBe(1);
    await events.send({ action: 'acknowledge', dedupKey: 'corr-1' });
    expect([...pd.incidents.values()][0]!.status).toBe('acknowledged');
    await events.send({ action: 'resolve', dedupKey: 'corr-1' });
    expect([...pd.incidents.values()][0]!.status).toBe('resolved');
    expect(pd.events.map((e) => e.event_action)).toEqual(['trigger', 'trigger', 'acknowledge', 'resolve']);
  });

  it('reports a rejected event as not retryable, naming the routing key', async () => {
    const events = new PagerDutyEvents({ routingKey: 'short', baseUrl: pd.eventsUrl });
    const err = await events.send({ action: 'trigger', dedupKey: 'x', summary: 's' }).catch((e) => e);
    expect(isQuenchError(err, 'validation_failed')).toBe(true);
    expect(err.details.retryable).toBe(false);
    expect(err.message).toContain('PAGERDUTY_ROUTING_KEY');
  });

  it('adds a note to the incident found by dedup key, as the From user', async () => {
    await new PagerDutyEvents({ routingKey: ROUTING_KEY, baseUrl: pd.eventsUrl }).send({
      action: 'trigger',
      dedupKey: 'corr-2',
      summary: 's',
    });
    const incident = await directory().incidentFor('corr-2');
    expect(incident).toBeDefined();
    await directory().addNote(incident!, 'rolled back v42', 'ada@example.com');
    expect(pd.incidents.get(incident!)!.notes).toEqual([expect.objectContaining({ content: 'rolled back v42', from: 'ada@example.com' })]);
    const err = await directory()
      .addNote(incident!, 'x', undefined)
      .catch((e) => e);
    expect(err.message).toContain('PAGERDUTY_FROM_EMAIL');
  });
});
