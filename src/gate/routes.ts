import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { parseJson, parseWith, readJson, readRawBody } from '../http/body.js';
import type { TokenAuthenticator } from '../http/auth.js';
import type { RequestContext, Router } from '../http/router.js';
import { type Actor, publicOverride, type Risk, risks } from './core/model.js';
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

function riskOf(raw: string | null | undefined): Risk {
  const risk = raw ?? 'high';
  if (!(risks as readonly string[]).includes(risk)) throw new QuenchError('bad_request', `risk must be 'low' or 'high', not '${risk}'`);
  return risk as Risk;
}

function required(query: URLSearchParams, name: string): string {
  const v = query.get(name)?.trim();
  if (!v) throw new QuenchError('bad_request', `the ${name} query parameter is required, e.g. /v1/deploy-gate?service=checkout&risk=high&change=abc123`);
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
    handler: async ({ query, user }) => {
      const answer = gate().answer(required(query, 'service'), riskOf(query.get('risk')), query.get('change') ?? undefined);
      await gate().recordBlocked(answer, user);
      return { status: answer.allowed || query.get('always200') === 'true' ? 200 : 423, body: answer };
    },
  });
  router.add({
    method: 'POST',
    pattern: '/v1/deploy-gate/flagger',
    // Flagger sends no headers: the token may come in the webhook's metadata (see docs/gate.md).
    auth: 'public',
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
  router.add({ method: 'GET', pattern: '/v1/freezes', auth: 'read', handler: () => ({ status: 200, body: { freezes: gate().describeState().freezes } }) });
  router.add({
    method: 'POST',
    pattern: '/v1/freezes',
    auth: 'write',
    handler: async (ctx) => {
      const b = await readJson(ctx.req, freezeBody, 64 * 1024);
      return { status: 201, body: await gate().freeze({ services: b.services, reason: b.reason, until: b.until, by: who(ctx) }) };
    },
  });
  router.add({
    method: 'DELETE',
    pattern: '/v1/freezes/:id',
    auth: 'write',
    handler: async (ctx) => ({ status: 200, body: await gate().unfreeze(ctx.params.id!, who(ctx), ctx.query.get('reason') ?? 'lifted by hand') }),
  });
  router.add({ method: 'GET', pattern: '/v1/overrides', auth: 'read', handler: () => ({ status: 200, body: { overrides: gate().describeState().overrides.map(publicOverride) } }) });
  router.add({
    method: 'POST',
    pattern: '/v1/overrides',
    auth: 'write',
    handler: async (ctx) => {
      const b = await readJson(ctx.req, overrideBody, 64 * 1024);
      return { status: 201, body: publicOverride(await gate().requestOverride({ service: b.service, changeId: b.change, until: b.until, reason: b.reason, by: tokenActor(who(ctx)) })) };
    },
  });
  router.add({
    method: 'POST',
    pattern: '/v1/overrides/:id/approve',
    auth: 'write',
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
