import { createHmac } from 'node:crypto';

/** Builders and signers for the webhook wire formats, as senders produce them (docs/webhooks.md). */

export function signGeneric(secret: string, body: string, timestampSeconds: number): Record<string, string> {
  const ts = String(Math.floor(timestampSeconds));
  return {
    'content-type': 'application/json',
    'x-quench-timestamp': ts,
    'x-quench-signature': `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`,
  };
}

export function signPagerDuty(secrets: string[], body: string, webhookId: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-webhook-id': webhookId,
    'x-pagerduty-signature': secrets.map((s) => `v1=${createHmac('sha256', s).update(body).digest('hex')}`).join(','),
  };
}

export interface AmAlert {
  status?: 'firing' | 'resolved';
  labels: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  fingerprint?: string;
}

export function alertmanagerBody(alerts: AmAlert[], groupKey = '{}:{alertname="HighLatency"}'): string {
  const status = alerts.every((a) => a.status === 'resolved') ? 'resolved' : 'firing';
  return JSON.stringify({
    version: '4',
    groupKey,
    truncatedAlerts: 0,
    status,
    receiver: 'quench',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts: alerts.map((a, i) => ({
      status: a.status ?? 'firing',
      labels: a.labels,
      annotations: { summary: `alert ${i}` },
      startsAt: a.startsAt ?? '2026-11-21T19:00:00Z',
      endsAt: a.endsAt ?? '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint: a.fingerprint ?? `fp${i}`,
    })),
  });
}

export function pagerdutyBody(eventId: string, type: string, incidentId: string): string {
  return JSON.stringify({
    event: {
      id: eventId,
      event_type: type,
      resource_type: 'incident',
      occurred_at: '2026-11-21T19:00:00Z',
      agent: null,
      client: null,
      data: { id: incidentId, type: 'incident', title: 'Checkout is down', urgency: 'high', service: { id: 'PSVC', summary: 'checkout' } },
    },
  });
}

export function genericBody(id: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id,
    type: 'deploy.failed',
    summary: 'deploy failed',
    severity: 'error',
    labels: { service: 'checkout' },
    ...extra,
  });
}
