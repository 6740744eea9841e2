import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { approvalSteps, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * A Slack Web API that does not answer auth.test (a black-holed connection: the WebClient has no
 * timeout; or a 5xx that it retries for seconds) must not hold the clicks and commands Slack
 * sends us: their acknowledgement is due within 3 s and needs no bot id (Quench listens to no
 * message events, the only use of the ids). The fake Slack sits behind a relay that holds
 * auth.test until the click has been answered, so a click that waits for auth.test never is.
 */
async function relay(): Promise<{ url: string; to(target: string): void; heldAuthTests: () => number; release(): void; close(): Promise<void> }> {
  let target = '';
  const held: ServerResponse[] = [];
  let seen = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.includes('auth.test')) {
        seen++;
        held.push(res);
        return;
      }
      void fetch(`${target.replace(/\/+$/, '')}${req.url}`, {
        method: req.method!,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>,
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      }).then(
        async (answer) => res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer())),
        () => res.writeHead(502).end(),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const release = () => {
    for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"user_id":"U0BOT","bot_id":"B0BOT"}');
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    to: (t) => (target = t),
    heldAuthTests: () => seen,
    release,
    close: () =>
      new Promise<void>((r) => {
        release();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('Slack requests while auth.test does not answer', () => {
  let h: SlackHarness | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    await h?.close();
    h = undefined;
    close = undefined;
  });

  it('a click and a command are answered without waiting for auth.test', async () => {
    const r = await relay();
    close = r.close;
    h = await startSlackHarness('pglite', { beforeStart: (slack) => r.to(slack.url), env: { SLACK_API_URL: r.url } });
    const runId = await h.startRun(approvalSteps());
    const stepId = await h.waitingStep(runId, 'approveRollback');
    const click = await h.click('ada', ACTION.approve, stepId);
    expect(click.status).toBe(200);
    expect((await h.command('ada', 'status')).status).toBe(200);
    expect(r.heldAuthTests()).toBeGreaterThan(0);
    r.release();
    await h.settle();
    expect((await h.ctx.ports.engine.getRun(runId))?.steps.find((s) => s.id === stepId)?.status).not.toBe('waiting');
  });
});
