import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import type { RunDetail } from '../../src/engine/sql/queries.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createPostgresDatabase, type DatabaseKind } from '../support/databases.js';
import { type FakePagerDuty, startFakePagerDuty } from '../support/fake-pagerduty.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { buttonClick, FORM, interactionBody, signedRequest, slashCommandBody, viewSubmission } from '../support/slack-signer.js';

/**
 * The whole service for drill and cancellation tests: the repository's playbooks/checkout.yaml
 * (plus any extra playbooks), a healthy synthetic SLO for the checkout service (so the real
 * deploy gate knows it), Slack and PagerDuty faked at their HTTP boundary, and a local target
 * that records every request: `kubectl` on the service's PATH is a stand-in that reports its
 * argv to that target, so "no real outbound call" is checked where the call would land.
 */
export const SIGNING_SECRET = 'drill-signing-secret';
export const CHANNEL = 'C0DRILLS';
export const people = {
  ada: { id: 'U0ADA', name: 'ada', realName: 'Ada Oncall', email: 'ada@example.com', pd: 'PU1', token: 'tok-ada-0123456789abcdef0123456789ab' },
  bob: { id: 'U0BOB', name: 'bob', realName: 'Bob Second', email: 'bob@example.com', pd: 'PU2', token: 'tok-bob-0123456789abcdef0123456789ab' },
  eve: { id: 'U0EVE', name: 'eve', realName: 'Eve Third', email: 'eve@example.com', pd: 'PU3', token: 'tok-eve-0123456789abcdef0123456789ab' },
};
export type Who = keyof typeof people;
/** The Events API key drills page through when QUENCH_PAGERDUTY_DRILL_ROUTING_KEY is set (the fake accepts it). */
export const DRILL_ROUTING_KEY = 'DR1LLKEY000000000000000000000000';

export interface Target {
  seen: string[];
  held: ServerResponse[];
  port: number;
  release(): void;
  close(): Promise<void>;
}

/** Records every request; `/slow` answers only when released. */
export async function startTarget(): Promise<Target> {
  const seen: string[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}${body ? ` ${body}` : ''}`);
      if (req.url === '/slow') held.push(res);
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    seen,
    held,
    port: (server.address() as AddressInfo).port,
    release() {
      for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}');
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read JSON bodies of several shapes
type Json = Record<string, any>;

export interface DrillHarness {
  service: RunningService;
  base: string;
  slack: FakeSlack;
  pd: FakePagerDuty;
  target: Target;
  clock: ManualClock;
  slash(who: Who, command: '/drill' | '/quench', text: string): Promise<string>;
  click(who: Who, actionId: string, value: string, triggerId?: string): Promise<Response>;
  submit(who: Who, callbackId: string, metadata: string, values: Record<string, Record<string, string>>, viewId?: string): Promise<Response>;
  api(method: string, path: string, who?: Who, body?: unknown): Promise<{ status: number; body: Json }>;
  run(runId: string): Promise<RunDetail>;
  until<T>(what: string, probe: () => Promise<T | undefined>, ms?: number): Promise<T>;
  stop(): Promise<void>;
}

const healthySlo = `apiVersion: quench/v1
kind: SLO
metadata: { name: checkout-availability }
service: checkout
objective: 99.9
window: 30d
sli:
  synthetic:
    requestsPerSecond: 10
    script:
      - { at: "0", errorRatio: 0 }
`;

export async function startDrillHarness(
  kind: DatabaseKind,
  o: { name: string; playbooks?: Record<string, string> | ((targetPort: number) => Record<string, string>); drills?: Record<string, string>; env?: Record<string, string> } = { name: 'drill' },
): Promise<DrillHarness> {
  const target = await startTarget();
  const dir = mkdtempSync(join(tmpdir(), `quench-${o.name}-`));
  const bin = join(dir, 'bin');
  const defs = join(dir, 'defs');
  mkdirSync(bin);
  mkdirSync(defs);
  // The stand-in kubectl reports its argv to the target and exits 0.
  writeFileSync(
    join(bin, 'kubectl'),
    `#!${process.execPath}\nfetch('http://127.0.0.1:${target.port}/kubectl', { method: 'POST', body: process.argv.slice(2).join(' ') }).then(() => console.log('REVISION 41'), () => process.exit(3));\n`,
  );
  chmodSync(join(bin, 'kubectl'), 0o755);
  if (!process.env.PATH?.startsWith(bin)) process.env.PATH = `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  writeFileSync(join(defs, 'checkout.yaml'), readFileSync(new URL('../../playbooks/checkout.yaml', import.meta.url), 'utf8'));
  writeFileSync(join(defs, 'checkout-slo.yaml'), healthySlo);
  const drills = join(dir, 'drills');
  mkdirSync(drills);
  for (const [name, text] of Object.entries(o.drills ?? {})) writeFileSync(join(drills, name), text);
  const extra = typeof o.playbooks === 'function' ? o.playbooks(target.port) : (o.playbooks ?? {});
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(defs, name), text);

  const slack = await startFakeSlack({ users: Object.values(people).map((p) => ({ id: p.id, name: p.name, realName: p.realName, email: p.email })) });
  const pd = await startFakePagerDuty({
    routingKeys: ['R0UTINGKEY0000000000000000000000', DRILL_ROUTING_KEY],
    users: Object.values(people).map((p) => ({ id: p.pd, name: p.realName, email: p.email })),
    policies: [{ id: 'PCHECKOUT', name: 'Checkout', rules: [{ delayMinutes: 10, targets: Object.values(people).map((p) => ({ type: 'user' as const, id: p.pd })) }] }],
  });
  const pg = kind === 'postgres' ? await createPostgresDatabase(`quench_${o.name}`) : undefined;
  const clock = new ManualClock(new Date());
  const config = loadConfig({
    ...(pg ? { DATABASE_URL: pg.url } : {}),
    QUENCH_DATA_DIR: 'memory://',
    QUENCH_PLAYBOOK_DIR: defs,
    QUENCH_SLO_DIR: defs,
    QUENCH_DRILL_DIR: drills,
    QUENCH_SLO_EVAL_CRON: '0 0 1 1 *',
    QUENCH_API_TOKENS: Object.values(people).map((p) => `${p.email}=${p.token}`).join(','),
    QUENCH_EXEC_ALLOWLIST: 'kubectl',
    QUENCH_HTTP_ALLOWLIST: '127.0.0.1:*',
    QUENCH_ENGINE_POLL_MS: '50',
    QUENCH_SLACK_CHANNEL: CHANNEL,
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.url,
    PAGERDUTY_TOKEN: 'pd-test-token',
    PAGERDUTY_API_URL: pd.apiUrl,
    PAGERDUTY_EVENTS_URL: pd.eventsUrl,
    PAGERDUTY_ROUTING_KEY: 'R0UTINGKEY0000000000000000000000',
    ...o.env,
  });
  const service = await startService(config, { logger: silentLogger, clock, port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${service.port}`;
  let n = 0;
  const post = (body: string) => {
    const req = signedRequest(SIGNING_SECRET, body, { timestamp: Math.floor(clock.now().getTime() / 1000), contentType: FORM });
    return fetch(`${base}/slack/events`, { method: 'POST', headers: req.headers, body: req.body });
  };
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    service,
    base,
    slack,
    pd,
    target,
    clock,
    async slash(who, command, text) {
      const p = people[who];
      const res = await post(
        slashCommandBody({ command, text, user_id: p.id, user_name: p.name, channel_id: CHANNEL, trigger_id: `trig-${++n}-${Math.random()}`, team_id: 'T0QUENCH' }),
      );
      if (res.status !== 200) throw new Error(`slash command answered ${res.status}: ${await res.text()}`);
      const raw = await res.text();
      return raw ? ((JSON.parse(raw) as { text?: string }).text ?? '') : '';
    },
    click(who, actionId, value, triggerId) {
      const p = people[who];
      const m = slack.messages.find((msg) => JSON.stringify(msg.blocks ?? []).includes(value));
      return post(
        interactionBody(
          buttonClick({
            user: { id: p.id, name: p.name },
            actionId,
            value,
            channel: m?.channel ?? CHANNEL,
            messageTs: m?.ts ?? '0',
            actionTs: `1767571300.${String(++n).padStart(6, '0')}`,
            ...(triggerId ? { triggerId } : {}),
          }),
        ),
      );
    },
    submit(who, callbackId, metadata, values, viewId) {
      const p = people[who];
      return post(interactionBody(viewSubmission({ user: { id: p.id, name: p.name }, callbackId, privateMetadata: metadata, values, viewId: viewId ?? `V${++n}` })));
    },
    async api(method, path, who, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(who ? { authorization: `Bearer ${people[who].token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
    },
    run: async (runId) => (await service.ctx.ports.engine.getRun(runId))!,
    until,
    async stop() {
      target.release();
      await service.stop();
      await slack.close();
      await pd.close();
      await target.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
