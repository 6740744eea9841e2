import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, databaseKinds } from '../support/databases.js';
import { childEnv, type ServeProcess, startServe } from '../support/quench-process.js';

/**
 * JSON that parses but that PostgreSQL cannot store: a `\u0000` escape or an unpaired
 * surrogate (`\ud800`) anywhere in a string or a key. Before the fix, `POST /v1/runs/:id/cancel`
 * with such a reason answered 500 (jsonb refused it), and a signed webhook holding one was
 * answered 202 and then failed in the inbox worker until it was dead-lettered: accepted, never
 * processed. Both must be a 400 at the door, with nothing stored.
 */
const TOKEN = 'unstorable-json-token-0123456789abcdef';
const SECRET = 'unstorable-generic-secret-0123456789';
const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata: { name: hold, owner: team-x, description: waits for a person }
triggers:
  - source: "generic:ci"
    type: hold.fire
steps:
  - id: gate
    name: Gate
    kind: human
    type: approve
    prompt: "go?"
    timeout: 30m
`;

const BAD_STRINGS = ['x\\u0000y', '\\ud800', 'tail \\udc00'];

describe.each(databaseKinds)('unstorable JSON strings are refused with 400 (%s)', (kind) => {
  let serve: ServeProcess;
  let drop: (() => Promise<void>) | undefined;
  const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quench-unstorable-'));
    mkdirSync(join(dir, 'playbooks'));
    mkdirSync(join(dir, 'slo'));
    writeFileSync(join(dir, 'playbooks', 'hold.yaml'), PLAYBOOK);
    let database: Record<string, string> = { QUENCH_DATA_DIR: join(dir, 'data') };
    if (kind === 'postgres') {
      const created = await createPostgresDatabase('quench_unstorable');
      drop = created.drop;
      database = { DATABASE_URL: created.url };
    }
    serve = await startServe(
      childEnv({
        ...database,
        QUENCH_API_TOKENS: `alice=${TOKEN}`,
        QUENCH_WEBHOOK_SECRETS: `ci=${SECRET}`,
        QUENCH_PLAYBOOK_DIR: join(dir, 'playbooks'),
        QUENCH_SLO_DIR: join(dir, 'slo'),
      }),
      { waitMs: 120_000 },
    );
  }, 180_000);

  afterAll(async () => {
    serve?.kill('SIGKILL');
    await serve?.exited;
    await drop?.();
  });

  it('a cancel reason holding one is refused and the run is left as it was', async () => {
    const started = await fetch(`${serve.url}/v1/runs`, { method: 'POST', headers: auth, body: JSON.stringify({ playbook: 'hold' }) });
    expect(started.status).toBe(201);
    const { runId } = (await started.json()) as { runId: string };
    for (const bad of BAD_STRINGS) {
      const res = await fetch(`${serve.url}/v1/runs/${runId}/cancel`, { method: 'POST', headers: auth, body: `{"reason":"${bad}"}` });
      expect(res.status, bad).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('bad_request');
      expect(body.message).toMatch(/cannot be stored/);
    }
    const run = (await (await fetch(`${serve.url}/v1/runs/${runId}`, { headers: auth })).json()) as { state: string };
    expect(run.state).not.toBe('cancelled');
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
  }, 120_000);

  it('a signed webhook holding one is refused, not accepted and later dead-lettered', async () => {
    const bodies = [
      `{"id":"nul-1","type":"hold.other","summary":"${BAD_STRINGS[0]}"}`,
      `{"id":"nul-2","type":"hold.other","summary":"ok","labels":{"k${BAD_STRINGS[1]}":"v"}}`,
    ];
    for (const body of bodies) {
      const ts = String(Math.floor(Date.now() / 1000));
      const signature = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
      const res = await fetch(`${serve.url}/webhooks/generic/ci`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Quench-Timestamp': ts, 'X-Quench-Signature': signature },
        body,
      });
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(/cannot be stored/);
    }
    // A well-formed pair (an emoji is a surrogate pair) is still accepted.
    const good = `{"id":"pair-1","type":"hold.other","summary":"fire \\ud83d\\udd25"}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${good}`).digest('hex')}`;
    const ok = await fetch(`${serve.url}/webhooks/generic/ci`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Quench-Timestamp': ts, 'X-Quench-Signature': signature },
      body: good,
    });
    expect(ok.status).toBe(202);
  }, 120_000);
});
