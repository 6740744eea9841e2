import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * Slack's Socket Mode wire protocol (https://api.slack.com/apis/socket-mode), served on the
 * fake's own HTTP server: the client connects to the URL `apps.connections.open` returned, is
 * greeted with `hello`, receives envelopes `{envelope_id, type, payload, accepts_response_payload}`
 * and acknowledges each by sending back `{envelope_id}` (with an optional payload).
 */
export interface FakeSocketMode {
  url(): string;
  connected(): Promise<void>;
  send(type: string, payload: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export function attachSocketMode(server: Server, port: () => number): FakeSocketMode {
  const wss = new WebSocketServer({ server, path: '/link' });
  const acks = new Map<string, (ack: Record<string, unknown>) => void>();
  let client: WebSocket | undefined;
  let greeted: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    greeted = resolve;
  });
  wss.on('connection', (ws) => {
    client = ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Record<string, unknown>;
      const id = typeof msg.envelope_id === 'string' ? msg.envelope_id : undefined;
      if (id && acks.has(id)) {
        acks.get(id)!(msg);
        acks.delete(id);
      }
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0QUENCH' }, debug_info: { host: 'fake' } }));
    greeted();
  });
  return {
    url: () => `ws://127.0.0.1:${port()}/link`,
    connected: () => ready,
    send(type, payload) {
      if (!client) return Promise.reject(new Error('no Socket Mode client is connected'));
      const envelopeId = randomUUID();
      const acked = new Promise<Record<string, unknown>>((resolve) => acks.set(envelopeId, resolve));
      client.send(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type !== 'events_api', retry_attempt: 0, retry_reason: '' }));
      return acked;
    },
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
