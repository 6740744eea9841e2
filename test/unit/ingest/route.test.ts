import { describe, expect, it } from 'vitest';
import { type TriggerMatcher, triggerMatcherSchema } from '../../../src/playbooks/core/triggers-schema.js';
import { type RoutablePlaybook, matches, route, specificity } from '../../../src/ingest/core/route.js';
import type { TriggerEvent } from '../../../src/triggers/event.js';

const m = (input: Record<string, unknown>): TriggerMatcher => triggerMatcherSchema.parse(input);
const pb = (name: string, ...triggers: Array<Record<string, unknown>>): RoutablePlaybook => ({
  metadata: { name },
  triggers: triggers.map(m),
});
const event = (over: Partial<TriggerEvent> = {}): TriggerEvent => ({
  source: 'alertmanager',
  type: 'alert.firing',
  key: 'fp@t',
  severity: 'critical',
  summary: 's',
  labels: { alertname: 'HighLatency', service: 'checkout', team: 'payments' },
  annotations: {},
  occurredAt: new Date('2026-01-01T00:00:00Z'),
  resolved: false,
  groupKey: '{}:{alertname="HighLatency"}',
  ...over,
});

describe('trigger matching', () => {
  it('requires every condition to hold', () => {
    expect(matches(m({ source: 'alertmanager', type: ['alert.firing'], labels: { service: 'checkout' } }), event())).toBe(true);
    expect(matches(m({ source: ['pagerduty'] }), event())).toBe(false);
    expect(matches(m({ labels: { service: 'payments' } }), event())).toBe(false);
    expect(matches(m({ labels: { missing: '' } }), event())).toBe(false);
    expect(matches(m({ severity: ['warning', 'info'] }), event())).toBe(false);
    expect(matches(m({ severity: 'critical' }), event({ severity: undefined }))).toBe(false);
  });
  it('anchors label regexes like Prometheus matchers', () => {
    expect(matches(m({ labelsMatch: { service: 'check.*' } }), event())).toBe(true);
    expect(matches(m({ labelsMatch: { service: 'check' } }), event())).toBe(false);
    expect(matches(m({ labelsMatch: { service: 'out' } }), event())).toBe(false);
    expect(matches(m({ labelsMatch: { absent: '.*' } }), event())).toBe(false);
  });
  it('matches SLO name and severity only on events that carry an SLO', () => {
    const burn = event({ source: 'slo', type: 'slo.burn', slo: { name: 'checkout-availability', severity: 'page', burnRates: {} } });
    expect(matches(m({ slo: { name: 'checkout-availability', severity: 'page' } }), burn)).toBe(true);
    expect(matches(m({ slo: { severity: 'ticket' } }), burn)).toBe(false);
    expect(matches(m({ slo: { name: 'checkout-availability' } }), event())).toBe(false);
  });
});

describe('routing', () => {
  it('picks the most specific match across playbooks', () => {
    const playbooks = [
      pb('catch-all', {}),
      pb('checkout', { source: 'alertmanager', labels: { service: 'checkout' } }),
      pb('latency', { source: 'alertmanager', labelsMatch: { service: 'check.*' } }),
    ];
    const d = route(event(), playbooks);
    expect(d).toMatchObject({ kind: 'matched', playbook: 'checkout', trigger: 0, candidates: 3 });
    expect(specificity(playbooks[1]!.triggers[0]!)).toBeGreaterThan(specificity(playbooks[2]!.triggers[0]!));
  });
  it('breaks ties by priority, then by playbook name, never by file order', () => {
    const a = pb('a-first', { labels: { team: 'payments' } });
    const b = pb('b-second', { labels: { team: 'payments' }, priority: 5 });
    expect(route(event(), [a, b])).toMatchObject({ playbook: 'b-second' });
    const c = pb('c', { labels: { team: 'payments' } });
    expect(route(event(), [c, a])).toMatchObject({ playbook: 'a-first' });
    expect(route(event(), [a, c])).toMatchObject({ playbook: 'a-first' });
  });
  it('picks the best trigger within a playbook and reports its index', () => {
    const d = route(event(), [pb('p', { source: 'pagerduty' }, { type: 'alert.firing' }, { type: 'alert.firing', severity: 'critical' })]);
    expect(d).toMatchObject({ kind: 'matched', trigger: 2, candidates: 2 });
  });
  it('is unrouted when nothing matches', () => {
    expect(route(event(), [pb('p', { source: 'pagerduty' })])).toEqual({ kind: 'unrouted' });
    expect(route(event(), [])).toEqual({ kind: 'unrouted' });
  });
  it('groups by the source group key by default, by groupBy labels when given, with the window', () => {
    expect(route(event(), [pb('p', { source: 'alertmanager' })])).toMatchObject({ groupKey: '{}:{alertname="HighLatency"}', window: '5m' });
    const d = route(event(), [pb('p', { source: 'alertmanager', groupBy: ['service', 'cluster'], window: '10m' })]);
    expect(d).toMatchObject({ groupKey: 'by:cluster="",service="checkout"', window: '10m' });
    expect(route(event({ groupKey: undefined }), [pb('p', {})])).toMatchObject({ groupKey: undefined });
  });
  it('sends an SLO event to the playbook its SLO names, but never lets a webhook pick one by label', () => {
    const playbooks = [pb('slo-generic', { source: 'slo' }), pb('checkout-burn', { source: 'pagerduty' })];
    const burn = event({ source: 'slo', type: 'slo.burn', labels: { playbook: 'checkout-burn' } });
    expect(route(burn, playbooks)).toMatchObject({ kind: 'matched', playbook: 'checkout-burn', via: 'named' });
    expect(route({ ...burn, labels: { playbook: 'not-loaded' } }, playbooks)).toMatchObject({ playbook: 'slo-generic', via: 'trigger' });
    const webhook = event({ labels: { playbook: 'checkout-burn' } });
    expect(route(webhook, [...playbooks, pb('am', { source: 'alertmanager' })])).toMatchObject({ playbook: 'am', via: 'trigger' });
  });
});

// Alertmanager 0.27 and Prometheus 3 carry label names in UTF-8 (OpenTelemetry's `service.name`,
// `k8s.namespace.name`), and generic events always could (`app.kubernetes.io/name`). Triggers
// accepted only [A-Za-z_][A-Za-z0-9_]*, so no playbook could match or group by such a label: a
// playbook naming one failed to load.
describe('label names beyond the classic Prometheus charset', () => {
  const otel = event({ labels: { 'service.name': 'checkout', 'k8s.namespace.name': 'shop', 'app.kubernetes.io/name': 'web', 'équipe': 'paiements' } });
  it('labels, labelsMatch and groupBy may name them', () => {
    const matcher = m({
      labels: { 'service.name': 'checkout', 'équipe': 'paiements' },
      labelsMatch: { 'k8s.namespace.name': 'shop|store', 'app.kubernetes.io/name': 'w.*' },
      groupBy: ['service.name', 'k8s.namespace.name'],
    });
    expect(matches(matcher, otel)).toBe(true);
    expect(matches(matcher, event())).toBe(false);
    expect(route(otel, [pb('otel', matcher)])).toMatchObject({ kind: 'matched', playbook: 'otel', groupKey: 'by:k8s.namespace.name="shop",service.name="checkout"' });
  });
  it('an empty label name is still refused', () => {
    expect(triggerMatcherSchema.safeParse({ labels: { '': 'x' } }).success).toBe(false);
    expect(triggerMatcherSchema.safeParse({ groupBy: [''] }).success).toBe(false);
  });
  it('group keys of different label sets never collide, whatever the names hold', () => {
    const a = route(event({ labels: { a: 'x', b: 'y' } }), [pb('p', { groupBy: ['a', 'b'] })]);
    const b = route(event({ labels: { 'a="x",b': 'y' } }), [pb('p', { groupBy: ['a="x",b'] })]);
    expect(a).toMatchObject({ groupKey: 'by:a="x",b="y"' });
    expect(b.kind === 'matched' && a.kind === 'matched' && b.groupKey !== a.groupKey).toBe(true);
  });
});

// Label lookups read the event's labels as a plain object: a trigger naming `constructor`,
// `toString` or `valueOf` found Object.prototype's member on every event without that label.
// labelsMatch then threw (RE2 refuses a function), so with one such playbook loaded every
// delivery failed routing and was dead-lettered, and groupBy wrote 'constructor=undefined'.
describe('label names that are Object.prototype members', () => {
  const plain = event({ labels: { service: 'checkout' } });
  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf'])('%s', (name) => {
    expect(matches(m({ labelsMatch: { [name]: '.*' } }), plain)).toBe(false);
    expect(matches(m({ labels: { [name]: '' } }), plain)).toBe(false);
    expect(route(plain, [pb('p', { labelsMatch: { service: 'check.*' }, groupBy: [name, 'service'] })])).toMatchObject({ kind: 'matched' });
    const expected = `by:${[`${name}=""`, 'service="checkout"'].sort().join(',')}`;
    expect(route(plain, [pb('p', { groupBy: [name, 'service'] })])).toMatchObject({ groupKey: expected });
    const own = event({ labels: { [name]: 'v' } });
    expect(matches(m({ labels: { [name]: 'v' } }), own)).toBe(true);
  });
});
