import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { parseJson, parseWith, readJson, readRawBody } from '../http/body.js';
import type { TokenAuthenticator } from '../http/auth.js';
import type { RequestContext, Router } from '../http/router.js';
import { isoTime, jsonBodyOf } from '../http/json-body.js';
import { type Actor, type Freeze, publicOverride, type PublicOverride, type Risk, risks } from './core/model.js';
import type { GateAnswer } from './core/decide.js';
import type { DeployGate } from './gate.js';

const freezeBody = z.strictObject({
  services: z.array(z.string().min(1).max(200)).min(1).max(100),
  reason: z.string().min(1).max(2000),
  until: z.string().min(1).max(64),
});

const overrideBody = z.strictObject({
  service: z.string().min(1).max(200),
  change: z.string().min(1).max(200).optional(),
  reason: z.string().min(1).max(2000),
  until: z.string().min(1).max(64),
});

/** Flagger's webhook payload (https://docs.flagger.app/usage/webhooks): name, namespace, phase, metadata. */
const flaggerBody = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
  phase: z.string().optional(),
  checksum: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

const GATE_EXAMPLE = 'e.g. /v1/deploy-gate?service=checkout&risk=high&change=abc123';
const SERVICE_REQUIRED = `the service query parameter is required, ${GATE_EXAMPLE}`;

/** `GET /v1/deploy-gate` query (read by `required` and `riskOf` below; documented in /openapi.json). */
const gateQuery = z.object({
  // The route's own hint, so a request the query check refuses first still shows the example.
  service: z.string({ error: SERVICE_REQUIRED }).min(1, { error: SERVICE_REQUIRED }).describe('The service about to deploy; an unknown service is 404'),
  risk: z.enum(risks).optional().describe('high (default) or low: a freeze may let low-risk changes through'),
  // Stored in the blocked answer's audit entry: a NUL there failed the insert (503), and an id has no use for control characters or length.
  change: z
    .string()
    .max(200)
    // eslint-disable-next-line no-control-regex -- control characters are what this refuses
    .refine((id) => !/[\u0000-\u001f\u007f]|\p{Cs}/u.test(id), { message: 'a change id has no control characters or unpaired surrogates' })
    .optional()
    .describe('The change id (commit, release); named in audit entries and overrides'),
  always200: z.enum(['true', 'false']).optional().describe('Answer 200 even when frozen (Argo Rollouts web metrics)'),
});

/** A freeze as `GET /v1/freezes`, the gate's answer and the freeze routes show it (core/model.ts Freeze). */
const freezeSchema = jsonBodyOf<Freeze>()(
  z.object({
    id: z.string(),
    kind: z.enum(['auto', 'manual']).describe("auto: an SLO's error budget policy froze its service; manual: a person or a playbook did"),
    services: z.array(z.string()).describe('"*" is every service'),
    slo: z.string().nullable().describe('The SLO of an auto freeze'),
    blocks: z.enum(['high', 'all']).describe('high: high-risk changes only; all: every change'),
    reason: z.string(),
    evidence: z.record(z.string(), z.unknown()).describe('What the freeze was decided on (budget, burn, alert; the run that froze)'),
    createdBy: z.string(),
    createdAt: isoTime(),
    until: isoTime().nullable().describe('When it ends on its own; null: an auto freeze ends on recovery'),
  }),
);

/** An override as the API shows it (core/model.ts PublicOverride: the people's aliases stay in the store). */
const overrideSchema = jsonBodyOf<PublicOverride>()(
  z.object({
    id: z.string(),
    service: z.string(),
    changeId: z.string().nullable().describe('null: every change of the service'),
    reason: z.string(),
    requestedBy: z.string(),
    approvers: z.array(z.string()).describe('In force once two people other than the requester approved'),
    createdAt: isoTime(),
    until: isoTime(),
  }),
);

/** The gate's answer (src/gate/core/decide.ts GateAnswer), as documented in /openapi.json. */
const gateAnswerSchema = jsonBodyOf<GateAnswer>()(
  z.object({
    allowed: z.boolean(),
    service: z.string(),
    risk: z.enum(risks),
    change: z.string().nullable(),
    reasons: z.array(
      z.object({
        freeze: z.string().describe('The blocking freeze'),
        kind: z.enum(['auto', 'manual']),
        slo: z.string().nullable(),
        budgetRemaining: z.number().nullable(),
        burnRate: z.number().nullable(),
        message: z.string(),
        link: z.string().describe('Path of the SLO status (or the freeze) on this service'),
      }),
    ),
    freezes: z.array(freezeSchema).describe('The blocking freezes'),
    until: isoTime().nullable().describe('When the last blocking freeze ends on its own; null while any lasts until recovery (or when allowed)'),
    override: z.object({ id: z.string(), until: isoTime(), approvers: z.array(z.string()) }).optional().describe('The override that let a frozen deploy through'),
  }),
);

function riskOf(raw: string | null | undefined): Risk {
  const risk = raw ?? 'high';
  if (!(risks as readonly string[]).includes(risk)) throw new QuenchError('bad_request', `risk must be 'low' or 'high', not '${risk}'`);
  return risk as Risk;
}

function required(query: URLSearchParams, name: string): string {
  const v = query.get(name)?.trim();
  if (!v) throw new QuenchError('bad_request', `the ${name} query parameter is required, ${GATE_EXAMPLE}`);
  return v;
}

/**
 * `GET /v1/deploy-gate` (200 allowed, 423 frozen; `always200=true` answers 200 either way, for
 * tools that treat any other status as an error, such as Argo Rollouts' web metric), the Flagger
 * confirm-rollout webhook, manual freezes and overrides.
 */
export function addGateRoutes(router: Router, gate: () => DeployGate, auth: TokenAuthenticator): void {
  router.add({
    method: 'GET',
    pattern: '/v1/deploy-gate',
    auth: 'read',
    doc: {
      summary: 'May this deploy go ahead? 200 allowed, 423 frozen (answered from memory)',
      query: gateQuery,
      responses: { 200: { description: 'Allowed (or any answer with always200=true)', body: gateAnswerSchema }, 404: { description: 'Unknown service' }, 423: { description: 'Frozen: reasons, freezes and until', body: gateAnswerSchema } },
    },
    handler: async ({ query, user }) => {
      const answer = gate().answer(required(query, 'service'), riskOf(query.get('risk')), query.get('change') ?? undefined);
      // Only a blocked answer is audited; an allowed one (the hot path) awaits nothing.
      if (!answer.allowed) await gate().recordBlocked(answer, user);
      return { status: answer.allowed || query.get('always200') === 'true' ? 200 : 423, body: answer };
    },
  });
  router.add({
    method: 'POST',
    pattern: '/v1/deploy-gate/flagger',
    // Flagger sends no headers: the token may come in the webhook's metadata (see docs/gate.md).
    auth: 'public',
    doc: {
      summary: 'Flagger confirm-rollout webhook: 200 proceed, 403 halt',
      query: z.object({ service: z.string().optional(), risk: z.enum(risks).optional() }),
      body: flaggerBody,
      responses: { 200: { description: 'Proceed', body: gateAnswerSchema }, 403: { description: 'Halt: the service is frozen', body: gateAnswerSchema } },
    },
    handler: async ({ req, query }) => {
      const body = parseWith(flaggerBody, parseJson(await readRawBody(req, 64 * 1024)), 'Flagger webhook');
      const meta = body.metadata ?? {};
      const user = flaggerUser(auth, req.headers.authorization, meta.token);
      const service = meta.service ?? query.get('service') ?? body.name;
      const answer = gate().answer(service, riskOf(meta.risk ?? query.get('risk')), meta.change ?? body.checksum);
      await gate().recordBlocked(answer, user);
      return { status: answer.allowed ? 200 : 403, body: answer };
    },
  });
  router.add({
    method: 'GET',
    pattern: '/v1/freezes',
    auth: 'read',
    doc: { summary: 'Active freezes', responses: { 200: { description: 'The open freezes, oldest first', body: z.object({ freezes: z.array(freezeSchema) }) } } },
    handler: () => ({ status: 200, body: { freezes: gate().describeState().freezes } }),
  });
  router.add({
    method: 'POST',
    pattern: '/v1/freezes',
    auth: 'write',
    doc: { summary: 'Freeze deploys of services by hand (release or holiday freeze)', body: freezeBody, responses: { 201: { description: 'The freeze', body: freezeSchema } } },
    handler: async (ctx) => {
      const b = await readJson(ctx.req, freezeBody, 64 * 1024);
      return { status: 201, body: await gate().freeze({ services: b.services, reason: b.reason, until: b.until, by: who(ctx) }) };
    },
  });
  router.add({
    method: 'DELETE',
    pattern: '/v1/freezes/:id',
    auth: 'write',
    doc: { summary: 'Lift a freeze', query: z.object({ reason: z.string().optional() }), responses: { 200: { description: 'The lifted freeze', body: freezeSchema } } },
    handler: async (ctx) => ({ status: 200, body: await gate().unfreeze(ctx.params.id!, who(ctx), ctx.query.get('reason') ?? 'lifted by hand') }),
  });
  router.add({
    method: 'GET',
    pattern: '/v1/overrides',
    auth: 'read',
    doc: { summary: 'Overrides, requested and approved', responses: { 200: { description: 'The open overrides', body: z.object({ overrides: z.array(overrideSchema) }) } } },
    handler: () => ({ status: 200, body: { overrides: gate().describeState().overrides.map(publicOverride) } }),
  });
  router.add({
    method: 'POST',
    pattern: '/v1/overrides',
    auth: 'write',
    doc: { summary: 'Request a time-boxed override of a freeze (needs two approvers other than the requester)', body: overrideBody, responses: { 201: { description: 'The requested override', body: overrideSchema } } },
    handler: async (ctx) => {
      const b = await readJson(ctx.req, overrideBody, 64 * 1024);
      return { status: 201, body: publicOverride(await gate().requestOverride({ service: b.service, changeId: b.change, until: b.until, reason: b.reason, by: tokenActor(who(ctx)) })) };
    },
  });
  router.add({
    method: 'POST',
    pattern: '/v1/overrides/:id/approve',
    auth: 'write',
    doc: { summary: 'Approve an override (four-eyes: not the requester)', responses: { 200: { description: 'The override with its approvers', body: overrideSchema } } },
    handler: async (ctx) => ({ status: 200, body: publicOverride(await gate().approveOverride(ctx.params.id!, tokenActor(who(ctx)))) }),
  });
}

/** A token user is known by the QUENCH_API_TOKENS name alone (matched case-insensitively). */
const tokenActor = (name: string): Actor => ({ name, aliases: [name] });

function who(ctx: RequestContext): string {
  if (!ctx.user) throw new QuenchError('unauthorized', 'this action needs an API token naming who acts');
  return ctx.user;
}

function flaggerUser(auth: TokenAuthenticator, header: string | undefined, metaToken: string | undefined): string | undefined {
  if (!auth.configured) return undefined;
  const token = header?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim() ?? metaToken;
  if (!token) throw new QuenchError('unauthorized', 'QUENCH_API_TOKENS is set: put a token in the webhook metadata (token: …)');
  const user = auth.identify(token);
  if (!user) throw new QuenchError('unauthorized', 'unknown API token');
  return user;
}
