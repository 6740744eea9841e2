import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActionContext, ActionDefinition } from '../../../src/actions/action.js';
import { loadConfig } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/core/clock.js';
import { NonRetriableError } from '../../../src/engine/core/step-error.js';
import { pagerDutyActions } from '../../../src/pagerduty/actions.js';
import { PagerDutyDirectory } from '../../../src/pagerduty/directory.js';
import { PagerDutyEvents } from '../../../src/pagerduty/events.js';
import { PagerDutyRest } from '../../../src/pagerduty/rest.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { type FakePagerDuty, startFakePagerDuty } from '../../support/fake-pagerduty.js';

const KEY = 'R0UTINGKEY0000000000000000000000';

function context(correlationId: string): ActionContext {
  return {
    runId: 'run-1',
    stepKey: 'page',
    attempt: 1,
    idempotencyKey: 'run-1:page:1',
    correlationId,
    signal: new AbortController().signal,
    clock: new ManualClock(),
    logger: silentLogger,
    config: loadConfig({}),
    ports: {},
    drill: false,
  };
}

describe('pagerduty.* actions', () => {
  let pd: FakePagerDuty;
  let actions: Map<string, ActionDefinition>;
  beforeEach(async () => {
    pd = await startFakePagerDuty({ users: [{ id: 'PU1', name: 'Ada', email: 'ada@example.com' }] });
    const list = pagerDutyActions({
      events: new PagerDutyEvents({ routingKey: KEY, baseUrl: pd.eventsUrl }),
      directory: new PagerDutyDirectory(new PagerDutyRest({ token: 'pd-test-token', baseUrl: pd.apiUrl })),
      fromEmail: 'ada@example.com',
    });
    actions = new Map(list.map((a) => [a.name, a]));
  });
  afterEach(async () => pd.close());

  const run = (name: string, params: unknown, corr = 'corr-1') =>
    actions.get(name)!.run(actions.get(name)!.params.parse(params), context(corr));

  it('triggers with the correlation id as dedup key, declares resolve as its compensation, and is idempotent', async () => {
    expect(actions.get('pagerduty.trigger')!.compensation).toEqual({ action: 'pagerduty.resolve' });
    expect(await run('pagerduty.trigger', { summary: 'checkout down', severity: 'critical' })).toEqual({
      dedupKey: 'corr-1',
      status: 'triggered',
    });
    await run('pagerduty.trigger', { summary: 'checkout down', severity: 'critical' });
    expect(pd.incidents.size).toBe(1);
    expect(pd.events[0]!.payload).toMatchObject({
      summary: 'checkout down',
      severity: 'critical',
      custom_details: { quench_run: 'run-1', correlation_id: 'corr-1' },
    });
    await run('pagerduty.acknowledge', {});
    await run('pagerduty.note', { content: 'rolled back' });
    await run('pagerduty.resolve', {});
    const incident = [...pd.incidents.values()][0]!;
    expect(incident.status).toBe('resolved');
    expect(incident.notes.map((n) => n.content)).toEqual(['rolled back']);
  });

  it('fails for good, with the variable to set, when PagerDuty is not configured', async () => {
    const off = new Map(pagerDutyActions({ events: undefined, directory: undefined, fromEmail: undefined }).map((a) => [a.name, a]));
    const trigger = off.get('pagerduty.trigger')!;
    const err = (await trigger.run(trigger.params.parse({ summary: 's' }), context('c')).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(NonRetriableError);
    expect(err.message).toContain('PAGERDUTY_ROUTING_KEY');
  });
});
