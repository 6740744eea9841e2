import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for PagerDuty: the REST API v2 (https://developer.pagerduty.com/api-reference)
 * for the resources Quench reads (on-calls, users, escalation policies, schedules, incidents and
 * their notes) with `Authorization: Token token=…`, and the Events API v2 (`POST /v2/enqueue`).
 * Answers use PagerDuty's JSON shapes and error envelopes; every request is recorded.
 */
export interface FakePdUser {
  id: string;
  name: string;
  email: string;
}

export interface FakePdPolicy {
  id: string;
  name: string;
  /** Escalation rules in level order; each target is a user or a schedule. */
  rules: Array<{ delayMinutes: number; targets: Array<{ type: 'user' | 'schedule'; id: string }> }>;
}

export interface FakePdSchedule {
  id: string;
  name: string;
  /** The user on call now. */
  oncall: string;
}

export interface FakePdEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key?: string;
  payload?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface FakePdIncident {
  id: string;
  incidentKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  title: string;
  notes: Array<{ id: string; content: string; from: string }>;
}

export interface FakePagerDuty {
  /** REST base (PAGERDUTY_API_URL). */
  readonly apiUrl: string;
  /** Events base (PAGERDUTY_EVENTS_URL); events go to `${eventsUrl}/v2/enqueue`. */
  readonly eventsUrl: string;
  readonly requests: Array<{ method: string; path: string; status: number; headers: IncomingMessage['headers'] }>;
  readonly events: FakePdEvent[];
  /** Change events (`POST /v2/change/enqueue`), as received. */
  readonly changeEvents: Array<{ routing_key: string; payload: { summary: string; source?: string; timestamp?: string; custom_details?: Record<string, unknown> } }>;
  readonly incidents: Map<string, FakePdIncident>;
  setOncall(scheduleId: string, userId: string): void;
  close(): Promise<void>;
}

export interface FakePagerDutyOptions {
  token?: string;
  routingKeys?: string[];
  users?: FakePdUser[];
  policies?: FakePdPolicy[];
  schedules?: FakePdSchedule[];
}

type Answer = { status: number; body?: unknown };

export async function startFakePagerDuty(options: FakePagerDutyOptions = {}): Promise<FakePagerDuty> {
  const token = options.token ?? 'pd-test-token';
  const routingKeys = new Set(options.routingKeys ?? ['R0UTINGKEY0000000000000000000000']);
  const users = new Map((options.users ?? []).map((u) => [u.id, u]));
  const policies = new Map((options.policies ?? []).map((p) => [p.id, p]));
  const schedules = new Map((options.schedules ?? []).map((s) => [s.id, { ...s }]));
  const incidents = new Map<string, FakePdIncident>();
  const events: FakePdEvent[] = [];
  const requests: FakePagerDuty['requests'] = [];
  let counter = 0;
  const id = (prefix: string) => `${prefix}${String(++counter).padStart(6, '0')}`;

  const ref = (type: string, objectId: string, summary: string) => ({
    id: objectId,
    type: `${type}_reference`,
    summary,
    self: `https://api.pagerduty.com/${type}s/${objectId}`,
    html_url: `https://quench-test.pagerduty.com/${type}s/${objectId}`,
  });
  const userJson = (u: FakePdUser) => ({
    ...ref('user', u.id, u.name),
    type: 'user',
    name: u.name,
    email: u.email,
    time_zone: 'UTC',
    role: 'user',
  });

  /** Every (policy, level, user) on call now, as GET /oncalls lists them. */
  const oncalls = () =>
    [...policies.values()].flatMap((policy) =>
      policy.rules.flatMap((rule, level) =>
        rule.targets.flatMap((target) => {
          const schedule = target.type === 'schedule' ? schedules.get(target.id) : undefined;
          const user = users.get(schedule ? schedule.oncall : target.id);
          if (!user) return [];
          return [
            {
              escalation_policy: ref('escalation_policy', policy.id, policy.name),
              escalation_level: level + 1,
              schedule: schedule ? ref('schedule', schedule.id, schedule.name) : null,
              user: ref('user', user.id, user.name),
              start: schedule ? '2026-01-01T00:00:00Z' : null,
              end: schedule ? '2026-12-31T00:00:00Z' : null,
            },
          ];
        }),
      ),
    );

  const rest = (method: string, path: string, query: URLSearchParams, body: unknown, headers: IncomingMessage['headers']): Answer => {
    const user = path.match(/^\/users\/([^/]+)$/);
    const policyPath = path.match(/^\/escalation_policies\/([^/]+)$/);
    const schedulePath = path.match(/^\/schedules\/([^/]+)$/);
    const notesPath = path.match(/^\/incidents\/([^/]+)\/notes$/);
    if (method === 'GET' && path === '/oncalls') {
      const policyIds = query.getAll('escalation_policy_ids[]');
      const scheduleIds = query.getAll('schedule_ids[]');
      const userIds = query.getAll('user_ids[]');
      const list = oncalls().filter(
        (o) =>
          (policyIds.length === 0 || policyIds.includes(o.escalation_policy.id)) &&
          (scheduleIds.length === 0 || (o.schedule && scheduleIds.includes(o.schedule.id))) &&
          (userIds.length === 0 || userIds.includes(o.user.id)),
      );
      return { status: 200, body: { oncalls: list, limit: 25, offset: 0, more: false, total: null } };
    }
    if (method === 'GET' && user) {
      const found = users.get(user[1]!);
      return found ? { status: 200, body: { user: userJson(found) } } : notFound();
    }
    if (method === 'GET' && policyPath) {
      const policy = policies.get(policyPath[1]!);
      if (!policy) return notFound();
      return {
        status: 200,
        body: {
          escalation_policy: {
            ...ref('escalation_policy', policy.id, policy.name),
            type: 'escalation_policy',
            name: policy.name,
            num_loops: 0,
            escalation_rules: policy.rules.map((rule, i) => ({
              id: `${policy.id}R${i + 1}`,
              escalation_delay_in_minutes: rule.delayMinutes,
              targets: rule.targets.map((t) =>
                ref(t.type, t.id, t.type === 'user' ? (users.get(t.id)?.name ?? t.id) : (schedules.get(t.id)?.name ?? t.id)),
              ),
            })),
          },
        },
      };
    }
    if (method === 'GET' && schedulePath) {
      const schedule = schedules.get(schedulePath[1]!);
      if (!schedule) return notFound();
      const oncallUser = users.get(schedule.oncall);
      return {
        status: 200,
        body: {
          schedule: {
            ...ref('schedule', schedule.id, schedule.name),
            type: 'schedule',
            name: schedule.name,
            time_zone: 'UTC',
            users: oncallUser ? [ref('user', oncallUser.id, oncallUser.name)] : [],
          },
        },
      };
    }
    if (method === 'GET' && path === '/incidents') {
      const key = query.get('incident_key');
      const list = [...incidents.values()].filter((i) => key === null || i.incidentKey === key).map(incidentJson);
      return { status: 200, body: { incidents: list, limit: 25, offset: 0, more: false, total: null } };
    }
    if (method === 'POST' && notesPath) {
      const incident = incidents.get(notesPath[1]!);
      if (!incident) return notFound();
      const from = String(headers.from ?? '');
      const author = [...users.values()].find((u) => u.email === from);
      if (!author) return invalid('Requester User Not Found');
      const content = (body as { note?: { content?: unknown } } | undefined)?.note?.content;
      if (typeof content !== 'string' || content === '') return invalid('Note content is required');
      const note = { id: id('N'), content, from };
      incident.notes.push(note);
      return {
        status: 201,
        body: { note: { id: note.id, user: ref('user', author.id, author.name), content, created_at: new Date().toISOString() } },
      };
    }
    return notFound();
  };

  const changeEvents: FakePagerDuty['changeEvents'] = [];
  /** Change events: routing key and payload.summary required; answered 202 like PagerDuty. */
  const changeEnqueue = (body: unknown): Answer => {
    const event = body as FakePagerDuty['changeEvents'][number];
    if (typeof event?.routing_key !== 'string' || !routingKeys.has(event.routing_key))
      return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid routing key'] } };
    if (typeof event.payload?.summary !== 'string')
      return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ["'payload.summary' is missing"] } };
    changeEvents.push(event);
    return { status: 202, body: { status: 'success', message: 'Change event processed' } };
  };
  const enqueue = (body: unknown): Answer => {
    const event = body as FakePdEvent;
    const errors: string[] = [];
    if (typeof event?.routing_key !== 'string' || event.routing_key.length !== 32) {
      errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
    }
    if (!['trigger', 'acknowledge', 'resolve'].includes(event?.event_action)) errors.push("'event_action' is invalid");
    if (event?.event_action === 'trigger') {
      const p = event.payload ?? {};
      if (typeof p.summary !== 'string') errors.push("'payload.summary' is missing");
      if (typeof p.source !== 'string') errors.push("'payload.source' is missing");
      if (!['critical', 'error', 'warning', 'info'].includes(String(p.severity))) errors.push("'payload.severity' is invalid");
    } else if (typeof event?.dedup_key !== 'string') errors.push("'dedup_key' is required for acknowledge and resolve");
    if (errors.length > 0) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
    if (!routingKeys.has(event.routing_key))
      return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid routing key'] } };
    events.push(event);
    const dedupKey = event.dedup_key ?? randomBytes(16).toString('hex');
    let incident = [...incidents.values()].find((i) => i.incidentKey === dedupKey && i.status !== 'resolved');
    if (event.event_action === 'trigger' && !incident) {
      incident = { id: id('Q'), incidentKey: dedupKey, status: 'triggered', title: String(event.payload?.summary), notes: [] };
      incidents.set(incident.id, incident);
    } else if (incident && event.event_action !== 'trigger') {
      incident.status = event.event_action === 'acknowledge' ? 'acknowledged' : 'resolved';
    }
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      return reply(res, requests, req, url.pathname, { status: 400, body: { error: { message: 'Invalid JSON', code: 2001 } } });
    }
    if (url.pathname === '/v2/enqueue' && req.method === 'POST') return reply(res, requests, req, url.pathname, enqueue(body));
    if (url.pathname === '/v2/change/enqueue' && req.method === 'POST') return reply(res, requests, req, url.pathname, changeEnqueue(body));
    if (!url.pathname.startsWith('/rest/')) return reply(res, requests, req, url.pathname, notFound());
    if (req.headers.authorization !== `Token token=${token}`) {
      return reply(res, requests, req, url.pathname, { status: 401, body: { error: { message: 'Unauthorized', code: 2006 } } });
    }
    const path = url.pathname.slice('/rest'.length);
    return reply(res, requests, req, url.pathname, rest(req.method ?? 'GET', path, url.searchParams, body, req.headers));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${base}/rest`,
    eventsUrl: base,
    requests,
    events,
    changeEvents,
    incidents,
    setOncall: (scheduleId, userId) => {
      const schedule = schedules.get(scheduleId);
      if (schedule) schedule.oncall = userId;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  function incidentJson(i: FakePdIncident) {
    return { ...ref('incident', i.id, i.title), type: 'incident', title: i.title, status: i.status, incident_key: i.incidentKey };
  }
}

function notFound(): Answer {
  return { status: 404, body: { error: { message: 'Not Found', code: 2100 } } };
}

function invalid(reason: string): Answer {
  return { status: 400, body: { error: { message: 'Invalid Input Provided', code: 2001, errors: [reason] } } };
}

function reply(res: ServerResponse, log: FakePagerDuty['requests'], req: IncomingMessage, path: string, answer: Answer): void {
  log.push({ method: req.method ?? 'GET', path, status: answer.status, headers: req.headers });
  res.writeHead(answer.status, { 'Content-Type': 'application/json' });
  res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
