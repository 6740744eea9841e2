import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP target on 127.0.0.1 that deduplicates by Idempotency-Key, as a well-behaved
 * API does: the first request with a key applies its side effect, repeats get the stored
 * answer. It records every request and every applied side effect, so tests can tell
 * "executed once" from "sent twice but applied once".
 */
export interface TargetRequest {
  path: string;
  key: string | undefined;
  correlationId: string | undefined;
  /** The `Idempotency-Attempt` header: which attempt of the step sent it (the key stays the same). */
  attempt: string | undefined;
}

export interface Target {
  url: string;
  host: string;
  requests: TargetRequest[];
  /** Side effects applied, in order: one per (path, key). */
  applied: TargetRequest[];
  /** Answers for a path: status codes in turn (the last repeats); default 200. */
  script(path: string, statuses: number[]): void;
  /** Requests to this path are held (never answered) until released. */
  hold(path: string): { received: Promise<void>; release: () => void };
  close(): Promise<void>;
}

export async function startTarget(): Promise<Target> {
  const requests: TargetRequest[] = [];
  const applied: TargetRequest[] = [];
  const scripts = new Map<string, number[]>();
  const holds = new Map<string, { arrived: () => void; released: Promise<void> }>();
  const answered = new Map<string, number>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    for await (const _ of req) {
      // drain the body
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const key = req.headers['idempotency-key'] as string | undefined;
    const entry = {
      path,
      key,
      correlationId: req.headers['x-correlation-id'] as string | undefined,
      attempt: req.headers['idempotency-attempt'] as string | undefined,
    };
    requests.push(entry);
    const hold = holds.get(path);
    if (hold) {
      hold.arrived();
      await hold.released;
    }
    const dedupe = `${path} ${key}`;
    const previous = answered.get(dedupe);
    if (previous !== undefined) return void res.writeHead(previous, { 'content-type': 'application/json' }).end('{"replayed":true}');
    const script = scripts.get(path);
    const status = script && script.length > 1 ? script.shift()! : (script?.[0] ?? 200);
    if (status < 300) {
      applied.push(entry);
      answered.set(dedupe, status);
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ path, applied: status < 300 }));
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    applied,
    script: (path, statuses) => scripts.set(path, [...statuses]),
    hold(path) {
      let arrived!: () => void;
      let release!: () => void;
      const received = new Promise<void>((r) => {
        arrived = r;
      });
      holds.set(path, { arrived, released: new Promise<void>((r) => (release = r)) });
      return {
        received,
        release: () => {
          holds.delete(path);
          release();
        },
      };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
