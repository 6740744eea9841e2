import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { normaliseDelivery } from '../../../src/ingest/core/normalise.js';
import { triggerEventSchema } from '../../../src/triggers/event.js';
import { parseWith } from '../../../src/http/body.js';
import { pagerdutyPayloadSchema } from '../../../src/ingest/core/pagerduty.js';
import { genericEventSchema } from '../../../src/ingest/core/generic.js';
import { alertmanagerPayloadSchema } from '../../../src/ingest/core/alertmanager.js';

const amPayload = (status: 'firing' | 'resolved', extra: Record<string, unknown> = {}) => ({
  version: '4',
  groupKey: '{}:{alertname="HighLatency"}',
  truncatedAlerts: 0,
  status,
  receiver: 'quench',
  groupLabels: { alertname: 'HighLatency' },
  commonLabels: { alertname: 'HighLatency' },
  commonAnnotations: {},
  externalURL: 'http://am:9093',
  notification_reason: 'repeat_interval',
  alerts: [
    {
      status,
      labels: { alertname: 'HighLatency', severity: 'page', service: 'checkout' },
      annotations: { summary: 'p99 above 2s' },
      startsAt: '2026-11-21T19:30:00.123456789Z',
      endsAt: status === 'resolved' ? '2026-11-21T19:40:00Z' : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prom/graph',
      fingerprint: 'a1b2c3',
      routeLabels: { team: 'x' },
    },
  ],
  ...extra,
});

describe('Alertmanager normalisation', () => {
  it('keys an alert by fingerprint + startsAt, and its firing and resolution are two distinct events', () => {
    const [firing] = normaliseDelivery('alertmanager', amPayload('firing'), new Date());
    const [resolved] = normaliseDelivery('alertmanager', amPayload('resolved'), new Date());
    expect(firing!.event).toMatchObject({
      source: 'alertmanager',
      type: 'alert.firing',
      key: 'a1b2c3@2026-11-21T19:30:00.123456789Z',
      severity: 'critical',
      summary: 'p99 above 2s',
      resolved: false,
      groupKey: '{}:{alertname="HighLatency"}',
    });
    expect(resolved!.event).toMatchObject({ type: 'alert.resolved', key: firing!.event.key, resolved: true });
    expect(resolved!.event.occurredAt.toISOString()).toBe('2026-11-21T19:40:00.000Z');
    expect(firing!.dedupKey).not.toBe(resolved!.dedupKey);
  });
  it('keeps unknown fields such as notification_reason and routeLabels', () => {
    const [e] = normaliseDelivery('alertmanager', amPayload('firing'), new Date());
    const payload = e!.event.payload as { alert: Record<string, unknown>; notificationReason: unknown };
    expect(payload.notificationReason).toBe('repeat_interval');
    expect(payload.alert.routeLabels).toEqual({ team: 'x' });
  });
  it('falls back to the label set when an old Alertmanager sends no fingerprint', () => {
    const body = amPayload('firing');
    delete (body.alerts[0] as Record<string, unknown>).fingerprint;
    const [e] = normaliseDelivery('alertmanager', body, new Date());
    expect(e!.event.key).toBe('labels:alertname="HighLatency",service="checkout",severity="page"@2026-11-21T19:30:00.123456789Z');
  });
});

describe('PagerDuty normalisation', () => {
  const pd = (type: string, data: Record<string, unknown>) => ({
    event: { id: `EV-${type}`, event_type: type, resource_type: 'incident', occurred_at: '2026-11-21T19:00:00Z', agent: null, data },
  });
  const incident = {
    id: 'PINC1',
    type: 'incident',
    title: 'Checkout down',
    urgency: 'high',
    number: 42,
    service: { id: 'PSVC', summary: 'checkout' },
  };
  it('keys every event of an incident by the incident id; the event id deduplicates', () => {
    const [t] = normaliseDelivery('pagerduty', pd('incident.triggered', incident), new Date());
    const [r] = normaliseDelivery('pagerduty', pd('incident.resolved', { ...incident, status: 'resolved' }), new Date());
    const [n] = normaliseDelivery(
      'pagerduty',
      pd('incident.annotated', { type: 'incident_note', content: 'looking', incident: { id: 'PINC1' } }),
      new Date(),
    );
    expect(t!.event).toMatchObject({
      type: 'incident.triggered',
      key: 'incident:PINC1',
      severity: 'critical',
      summary: 'Checkout down',
      resolved: false,
    });
    expect(t!.event.labels).toMatchObject({ service: 'checkout', urgency: 'high', incident_number: '42' });
    expect(r!.event).toMatchObject({ key: 'incident:PINC1', resolved: true });
    expect(n!.event).toMatchObject({ type: 'incident.annotated', key: 'incident:PINC1', summary: 'looking' });
    expect(new Set([t!.dedupKey, r!.dedupKey, n!.dedupKey]).size).toBe(3);
  });
});

describe('generic normalisation', () => {
  it('derives the alert identity from type and labels unless a key is given', () => {
    const received = new Date('2026-11-21T10:00:00Z');
    const [a] = normaliseDelivery('generic:ci', { id: '1', type: 'deploy.failed', summary: 's', labels: { b: '2', a: '1' } }, received);
    const [b] = normaliseDelivery(
      'generic:ci',
      { id: '2', type: 'deploy.failed', summary: 's', labels: { a: '1', b: '2' }, resolved: true },
      received,
    );
    expect(a!.event).toMatchObject({ source: 'generic:ci', key: 'deploy.failed{a="1",b="2"}', resolved: false });
    expect(a!.event.occurredAt).toEqual(received);
    expect(b!.event.key).toBe(a!.event.key);
    const [c] = normaliseDelivery('generic:ci', { id: '3', type: 't', summary: 's', key: 'K' }, received);
    expect(c!.event.key).toBe('K');
  });
});

// A time zod accepts but PostgreSQL cannot store failed at the INSERT, after the 202: the inbox
// entry then died after its retries (and a grouped notification's good alerts with it).
describe('times the database cannot store are refused at the edge', () => {
  const genericAt = (occurredAt: string) => ({ id: 'e1', type: 't', summary: 's', occurredAt });
  const amAt = (startsAt: string) => {
    const p = amPayload('firing');
    return { ...p, alerts: [p.alerts[0]!, { ...p.alerts[0]!, fingerprint: 'x9', startsAt }] };
  };
  const pdAt = (occurred_at: string) => ({
    event: { id: 'EV1', event_type: 'incident.triggered', resource_type: 'incident', occurred_at, agent: null, data: { id: 'P1', type: 'incident', title: 't' } },
  });
  it.each([
    ['year 0000', '0000-01-01T00:00:00Z'],
    ['a year 0001 instant that is year 0000 in UTC', '0001-01-01T00:30:00+01:00'],
    ['after 9999 in UTC', '9999-12-31T23:30:00-01:00'],
  ])('%s', (_, at) => {
    expect(() => normaliseDelivery('generic:ci', genericAt(at), new Date())).toThrow(/0001-01-01T00:00:00Z and 9999-12-31/);
    expect(() => normaliseDelivery('alertmanager', amAt(at), new Date())).toThrow(/0001-01-01T00:00:00Z and 9999-12-31/);
    expect(() => normaliseDelivery('pagerduty', pdAt(at), new Date())).toThrow(/0001-01-01T00:00:00Z and 9999-12-31/);
  });
  it("keeps the edges, and Alertmanager's zero endsAt", () => {
    expect(normaliseDelivery('generic:ci', genericAt('0001-01-01T00:00:00Z'), new Date())[0]!.event.occurredAt.toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(normaliseDelivery('generic:ci', genericAt('9999-12-31T23:59:59Z'), new Date())).toHaveLength(1);
    expect(normaliseDelivery('alertmanager', amPayload('firing'), new Date())).toHaveLength(1);
  });
});

// The severity tables were plain objects: a label `severity: __proto__` or `constructor` (or a
// PagerDuty urgency of that name) read Object.prototype's members as a severity. The delivery
// was answered 202, then the run's start refused the event ('severity: Invalid option') on
// every retry until the whole delivery was dead-lettered.
describe('severity words that name Object.prototype members are no severity', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__defineGetter__'])('%s', (word) => {
    const am = amPayload('firing');
    am.alerts[0]!.labels.severity = word;
    const [alert] = normaliseDelivery('alertmanager', am, new Date());
    expect(alert!.event.severity).toBeUndefined();
    expect(triggerEventSchema.safeParse(alert!.event).success).toBe(true);

    const pd = {
      event: {
        id: 'EV1',
        event_type: 'incident.triggered',
        resource_type: 'incident',
        occurred_at: '2026-11-21T19:00:00Z',
        agent: null,
        data: { id: 'P1', type: 'incident', title: 't', urgency: word },
      },
    };
    const [incident] = normaliseDelivery('pagerduty', pd, new Date());
    expect(incident!.event.severity).toBeUndefined();
    expect(triggerEventSchema.safeParse(incident!.event).success).toBe(true);
  });
});

// PagerDuty's incident_responder, incident_status_update and other incident-linked data
// (custom field values, conference bridge, workflow instances) carry the incident as a
// reference, like incident_note. Only the note was recognised: the others were keyed by their
// own id (`incident:PSTUPD7`) or by the event id, so they never reached the incident's runs.
describe('PagerDuty events about an incident reach that incident', () => {
  const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/pagerduty/${name}.json`, import.meta.url), 'utf8')) as unknown;
  it.each([
    ['incident-responder-added', 'incident.responder.added', 'Please join the checkout bridge'],
    ['incident-status-update-published', 'incident.status_update_published', 'Rollback done; error rate falling'],
    ['incident-custom-field-values-updated', 'incident.custom_field_values.updated', 'incident.custom_field_values.updated'],
  ])('%s', (name, type, summary) => {
    const [triggered] = normaliseDelivery('pagerduty', fixture('incident-triggered'), new Date());
    const [e] = normaliseDelivery('pagerduty', fixture(name), new Date());
    expect(e!.event).toMatchObject({ type, key: triggered!.event.key, summary, resolved: false });
    expect(e!.event.key).toBe('incident:Q000001');
    expect(triggerEventSchema.safeParse(e!.event).success).toBe(true);
  });
  it('an incident whose fields are not what PagerDuty sends is refused by field, not accepted as some other resource', () => {
    const body = fixture('incident-triggered') as { event: { data: Record<string, unknown> } };
    body.event.data.service = { id: 'PF9KMXH', summary: 42 };
    expect(() => parseWith(pagerdutyPayloadSchema, body, 'PagerDuty webhook')).toThrow(
      'invalid PagerDuty webhook: event.data.service.summary: Invalid input: expected string, received number',
    );
  });
  it('a resource PagerDuty may add later is still accepted under its own key', () => {
    const [e] = normaliseDelivery(
      'pagerduty',
      { event: { id: 'EV9', event_type: 'pagey.ping', resource_type: 'pagey', occurred_at: '2026-11-21T19:00:00Z', agent: null, client: null, data: { message: 'Hello from your friend Pagey!', type: 'ping' } } },
      new Date(),
    );
    expect(e!.event).toMatchObject({ type: 'pagey.ping', key: 'pagey:EV9' });
  });
});

// PagerDuty drops a webhook answered 4xx without retrying: fields Quench does not read, and
// nulls where a value is optional, must never be a reason to refuse one.
describe('PagerDuty incidents with nulls and fields Quench does not read are accepted', () => {
  it('null status, html_url, number, service summary, priority and urgency', () => {
    const body = JSON.parse(readFileSync(new URL('../../fixtures/pagerduty/incident-triggered.json', import.meta.url), 'utf8')) as {
      event: { data: Record<string, unknown> };
    };
    Object.assign(body.event.data, { status: null, html_url: null, number: null, priority: null, urgency: null, title: null, service: { id: 'PF9KMXH', summary: null, type: null } });
    const value = parseWith(pagerdutyPayloadSchema, body, 'PagerDuty webhook');
    const [e] = normaliseDelivery('pagerduty', value, new Date());
    expect(e!.event).toMatchObject({ key: 'incident:Q000001', summary: 'incident.triggered' });
    expect(e!.event.labels).toEqual({ resource_type: 'incident', service_id: 'PF9KMXH', incident_key: 'd3640fbd41094207a1c11e58e46b1662' });
    expect(triggerEventSchema.safeParse(e!.event).success).toBe(true);
  });
});

// A time zod refused was answered 'Invalid ISO datetime', naming neither the value nor what to
// write; the range check then added a second, wrong, complaint about years.
describe('a refused time says what is wrong with it and what to write', () => {
  const generic = (occurredAt: string) => () => parseWith(genericEventSchema, { id: 'e1', type: 't', summary: 's', occurredAt }, 'event');
  it.each([
    ['no zone', '2026-11-21T19:04:05', "invalid event: occurredAt: '2026-11-21T19:04:05' has no time zone, so it would mean another instant on each machine: add Z for UTC (2026-11-21T19:04:05Z) or an offset such as +01:00"],
    ['impossible date', '2026-02-30T10:00:00Z', "invalid event: occurredAt: '2026-02-30T10:00:00Z' is not a calendar date: February 2026 has 28 days; write a day from 01 to 28"],
    ['leap second', '2016-12-31T23:59:60Z', "invalid event: occurredAt: '2016-12-31T23:59:60Z' is not a time of day: hours run 00-23, minutes and seconds 00-59"],
    ['a space for the T', '2026-11-21 19:04:05Z', "invalid event: occurredAt: '2026-11-21 19:04:05Z' is not an RFC 3339 date-time as this field needs: write a T between date and time, seconds, and Z or an offset (2026-11-21T19:04:05Z)"],
    ['a date alone', '2026-11-21', "invalid event: occurredAt: '2026-11-21' is not an RFC 3339 date-time as this field needs: write a T between date and time, seconds, and Z or an offset (2026-11-21T19:04:05Z)"],
    ['out of range', '0000-12-31T23:00:00Z', "invalid event: occurredAt: '0000-12-31T23:00:00Z' is out of range: write a time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z (in UTC)"],
  ])('%s', (_, at, message) => expect(generic(at)).toThrow(message));
  it('an accepted time is kept as written', () => {
    expect(generic('2026-11-21T19:04:05.123456789+05:30')().occurredAt).toBe('2026-11-21T19:04:05.123456789+05:30');
  });
});

// Grafana's webhook contact point sends Alertmanager's payload with fields of its own added and
// `version: "1"`; it was refused whole ('version: expected "4"'), and a refused notification is
// not retried, so a Grafana alert pointed at /webhooks/alertmanager never reached a playbook.
describe("Grafana's Alertmanager-shaped webhook", () => {
  const grafana = () => JSON.parse(readFileSync(new URL('../../fixtures/alertmanager/grafana-webhook.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  it('is read as an Alertmanager notification, its own fields kept', () => {
    const value = parseWith(alertmanagerPayloadSchema, grafana(), 'Alertmanager payload');
    const [e] = normaliseDelivery('alertmanager', value, new Date());
    expect(e!.event).toMatchObject({ type: 'alert.firing', key: '57c6d9296de2ad39@2026-11-21T19:00:00Z', severity: 'critical', labels: { service: 'checkout' } });
    expect((e!.event.payload as { alert: Record<string, unknown> }).alert.valueString).toMatch(/var='B'/);
  });
  it('another version is refused saying which senders this endpoint takes', () => {
    expect(() => parseWith(alertmanagerPayloadSchema, { ...grafana(), version: '3' }, 'Alertmanager payload')).toThrow(
      `invalid Alertmanager payload: version: "3" is neither Alertmanager's webhook payload (version 4) nor Grafana's (version 1); send other events to /webhooks/generic/<source>`,
    );
  });
});

// zod's records and loose objects skip a key named `__proto__` (their output is a plain {}), so
// a label, annotation or field of that name was unchecked at intake and then gone from the
// event, the run's trigger and the signals, while the stored body kept it. JSON.parse makes it
// an own property, as a sender means it; it stays one, checked like any other key.
describe('a key named __proto__ is kept as sent, and checked', () => {
  const proto = (json: string) => JSON.parse(json) as Record<string, unknown>;
  const own = (o: unknown, key = '__proto__') => Object.hasOwn(o as object, key) && Object.getPrototypeOf(o) === Object.prototype;
  it('Alertmanager labels, annotations, alert and notification fields', () => {
    const body = amPayload('firing', proto('{"__proto__": {"kept": true}}'));
    const alert = (body.alerts as Record<string, unknown>[])[0]!;
    alert.labels = proto('{"alertname": "HighLatency", "__proto__": "label"}');
    alert.annotations = proto('{"summary": "p99", "__proto__": "annotation"}');
    Object.assign(alert, { extra: 1 });
    Object.defineProperty(alert, '__proto__', { value: 'field', enumerable: true });
    const value = parseWith(alertmanagerPayloadSchema, JSON.parse(JSON.stringify(body)), 'Alertmanager payload');
    const [e] = normaliseDelivery('alertmanager', value, new Date());
    expect(own(e!.event.labels)).toBe(true);
    expect(JSON.stringify(e!.event.labels)).toBe('{"alertname":"HighLatency","__proto__":"label"}');
    expect(JSON.stringify(e!.event.annotations)).toBe('{"summary":"p99","__proto__":"annotation"}');
    expect(JSON.stringify(e!.event.payload)).toContain('"__proto__":"field"');
    expect(JSON.stringify(value)).toContain('"__proto__":{"kept":true}');
    // What the run is started with (effects.ts parses the stored event again) keeps it too.
    const trigger = triggerEventSchema.parse(JSON.parse(JSON.stringify(e!.event)));
    expect(trigger.labels).toEqual(e!.event.labels);
    expect(JSON.stringify(trigger.labels)).toContain('"__proto__":"label"');
    expect(JSON.stringify(trigger.annotations)).toContain('"__proto__":"annotation"');
    // Nothing reached a prototype.
    expect(({} as Record<string, unknown>).kept).toBeUndefined();
  });
  it('a generic event, and its identity names the label', () => {
    const value = parseWith(genericEventSchema, proto('{"id":"g","type":"t","summary":"s","labels":{"__proto__":"x","a":"b"},"__proto__":{"extra":1}}'), 'event');
    const [e] = normaliseDelivery('generic:ci', value, new Date());
    expect(e!.event.key).toBe('t{__proto__="x",a="b"}');
    expect(JSON.stringify(e!.event.payload)).toBe('{"id":"g","type":"t","summary":"s","labels":{"__proto__":"x","a":"b"},"annotations":{},"resolved":false,"__proto__":{"extra":1}}');
  });
  it('a PagerDuty incident field', () => {
    const body = JSON.parse(readFileSync(new URL('../../fixtures/pagerduty/incident-triggered.json', import.meta.url), 'utf8')) as { event: { data: Record<string, unknown> } };
    const text = JSON.stringify(body).replace('"type":"incident"', '"type":"incident","__proto__":{"custom":"detail"}');
    const [e] = normaliseDelivery('pagerduty', parseWith(pagerdutyPayloadSchema, JSON.parse(text), 'PagerDuty webhook'), new Date());
    expect(JSON.stringify(e!.event.payload)).toContain('"__proto__":{"custom":"detail"}');
  });
  it('a __proto__ label that is not a string is refused, naming it', () => {
    const body = amPayload('firing');
    (body.alerts as Record<string, unknown>[])[0]!.labels = proto('{"alertname": "A", "__proto__": 5}');
    expect(() => parseWith(alertmanagerPayloadSchema, body, 'Alertmanager payload')).toThrow(
      'invalid Alertmanager payload: alerts.0.labels.__proto__: Invalid input: expected string, received number',
    );
    expect(() => parseWith(genericEventSchema, proto('{"id":"g","type":"t","summary":"s","annotations":{"__proto__":{}}}'), 'event')).toThrow(
      'invalid event: annotations.__proto__: Invalid input: expected string, received object',
    );
  });
});

// Some proxies and re-senders write PagerDuty's integers as strings; PagerDuty itself drops a
// delivery answered 4xx for good. incident.number only becomes the label incident_number.
describe('a PagerDuty incident number written as a string', () => {
  const incident = (number: unknown) => {
    const body = JSON.parse(readFileSync(new URL('../../fixtures/pagerduty/incident-triggered.json', import.meta.url), 'utf8')) as { event: { data: Record<string, unknown> } };
    body.event.data.number = number;
    return body;
  };
  it.each([[2], ['2'], ['0002']])('%j is incident number 2, the payload keeping what was sent', (number) => {
    const value = parseWith(pagerdutyPayloadSchema, incident(number), 'PagerDuty webhook');
    const [e] = normaliseDelivery('pagerduty', value, new Date());
    expect(e!.event.labels.incident_number).toBe('2');
    expect((e!.event.payload as { event: { data: { number: unknown } } }).event.data.number).toBe(number);
  });
  it.each([['two'], ['-2'], ['2.5'], [2.5], [true], ['']])('%j is refused naming the field and what to send', (number) => {
    expect(() => parseWith(pagerdutyPayloadSchema, incident(number), 'PagerDuty webhook')).toThrow(
      `invalid PagerDuty webhook: event.data.number: ${JSON.stringify(number)} is not an incident number: send an integer (2), or its digits as a string ("2")`,
    );
  });
});

// Every event type of PagerDuty's V3 webhooks (developer.pagerduty.com, "Webhooks v3 overview",
// Event Types), with the data type each carries: accepted, keyed by its incident (or resource),
// and only incident.resolved resolves.
describe('every PagerDuty V3 event type', () => {
  const incident = { id: 'PGR0VU2', type: 'incident', number: 2, status: 'triggered', title: 'A little bump in the road', urgency: 'high', service: { id: 'PF9KMXH', summary: 'API Service', type: 'service_reference' }, resolve_reason: null };
  const ref = { id: 'PGR0VU2', type: 'incident_reference', summary: 'A little bump in the road' };
  const data: Record<string, Record<string, unknown>> = {
    incident,
    incident_note: { id: 'P2LA89X', type: 'incident_note', incident: ref, content: 'I sure am glad we are using PagerDuty!', trimmed: false },
    incident_responder: { type: 'incident_responder', incident: ref, user: { id: 'PVMGSML', type: 'user_reference' }, message: 'Please help', state: 'pending' },
    incident_status_update: { id: 'P2LA89Y', type: 'incident_status_update', incident: ref, message: 'A fix is being developed', trimmed: false },
    service: { id: 'PF9KMXH', type: 'service', summary: 'testing service updates', teams: [] },
    ping: { message: 'Hello from your friend Pagey!', type: 'ping' },
  };
  it.each([
    ['incident.triggered', 'incident', 'incident:PGR0VU2'],
    ['incident.acknowledged', 'incident', 'incident:PGR0VU2'],
    ['incident.unacknowledged', 'incident', 'incident:PGR0VU2'],
    ['incident.escalated', 'incident', 'incident:PGR0VU2'],
    ['incident.delegated', 'incident', 'incident:PGR0VU2'],
    ['incident.reassigned', 'incident', 'incident:PGR0VU2'],
    ['incident.priority_updated', 'incident', 'incident:PGR0VU2'],
    ['incident.reopened', 'incident', 'incident:PGR0VU2'],
    ['incident.resolved', 'incident', 'incident:PGR0VU2'],
    ['incident.annotated', 'incident_note', 'incident:PGR0VU2'],
    ['incident.responder.added', 'incident_responder', 'incident:PGR0VU2'],
    ['incident.responder.replied', 'incident_responder', 'incident:PGR0VU2'],
    ['incident.status_update_published', 'incident_status_update', 'incident:PGR0VU2'],
    ['service.created', 'service', 'service:PF9KMXH'],
    ['service.updated', 'service', 'service:PF9KMXH'],
    ['service.deleted', 'service', 'service:PF9KMXH'],
    ['pagey.ping', 'ping', 'pagey:01CH754SM17TWPE2V2H4VPBRO7'],
  ])('%s', (type, dataType, key) => {
    const resource = type.split('.')[0]!;
    const body = { event: { id: '01CH754SM17TWPE2V2H4VPBRO7', event_type: type, resource_type: resource, occurred_at: '2021-12-08T22:58:53.510Z', agent: null, client: null, data: data[dataType] } };
    const [e] = normaliseDelivery('pagerduty', parseWith(pagerdutyPayloadSchema, body, 'PagerDuty webhook'), new Date());
    expect(e!.event).toMatchObject({ source: 'pagerduty', type, key, resolved: type === 'incident.resolved' });
    expect(e!.dedupKey).toBe('01CH754SM17TWPE2V2H4VPBRO7');
    expect(triggerEventSchema.safeParse(e!.event).success).toBe(true);
  });
});
