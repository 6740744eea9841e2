import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attachSocketMode } from './fake-slack-socket.js';
import { blockKitErrors, viewErrors } from './slack-limits.js';

/**
 * A local stand-in for Slack's Web API (https://api.slack.com/web), speaking its wire format:
 * every method is `POST /api/<method>` with a form-encoded or JSON body and the token in
 * `Authorization: Bearer`, answered 200 with `{ok: true, …}` or `{ok: false, error}`; rate limits
 * are HTTP 429 with `Retry-After`. It keeps just enough state (users, groups, channels, messages)
 * for Quench's calls to be answered the way Slack would, and records every call. Messages are
 * held to Slack's Block Kit limits (./slack-limits.ts: 50 blocks, 3,000-character sections,
 * 150-character headers): over one, chat.postMessage and chat.update answer `invalid_blocks`, as
 * Slack does, and store nothing.
 */
export interface FakeSlackUser {
  id: string;
  name: string;
  realName?: string;
  email?: string;
}

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[] | undefined;
  threadTs: string | undefined;
  /** Every version, oldest first (chat.update appends). */
  history: Array<{ text: string; blocks: unknown[] | undefined }>;
}

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  token: string | undefined;
  /** Wall-clock arrival (ms), to check that Retry-After was waited out. */
  at: number;
  status: number;
  /** The `error` of an `{ok: false}` answer (`invalid_blocks`, `channel_not_found`, …). */
  error?: string;
}

export interface FakeSlack {
  /** Web API base, ending in `/api` (set SLACK_API_URL to it). */
  readonly url: string;
  readonly calls: RecordedCall[];
  readonly messages: FakeSlackMessage[];
  readonly channels: Map<string, { id: string; name: string; members: Set<string> }>;
  callsTo(method: string): RecordedCall[];
  /** The next `count` calls to `method` get 429 with `Retry-After: seconds`. */
  rateLimit(method: string, seconds: number, count?: number): void;
  /** The next call to `method` answers `{ok: false, error}`. */
  failNext(method: string, error: string): void;
  /**
   * Until cleared (`undefined`), every call to `method` for which `error(args)` names an error
   * answers `{ok: false, error}`: an outage, or one channel refusing, as long as a test needs.
   */
  failWhen(method: string, error: ((args: Record<string, unknown>) => string | undefined) | undefined): void;
  /**
   * Until cleared, a call to `method` for which `hold(args)` gives a promise is answered only
   * once that promise settles (a slow or hung Slack): the call is handled, and recorded, then.
   */
  holdWhen(method: string, hold: ((args: Record<string, unknown>) => Promise<unknown> | undefined) | undefined): void;
  addUser(user: FakeSlackUser): void;
  setGroup(groupId: string, userIds: string[]): void;
  message(channel: string, ts: string): FakeSlackMessage | undefined;
  /** Socket Mode: resolves once a client has connected and been greeted with `hello`. */
  socketConnected(): Promise<void>;
  /** Socket Mode: sends an envelope and resolves with the client's acknowledgement. */
  sendEnvelope(type: 'interactive' | 'slash_commands' | 'events_api', payload: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface FakeSlackOptions {
  token?: string;
  /** App-level token (`xapp-…`) that `apps.connections.open` accepts, for Socket Mode. */
  appToken?: string;
  users?: FakeSlackUser[];
  /** User group id → member user ids. */
  groups?: Record<string, string[]>;
  botUserId?: string;
}

type Args = Record<string, unknown>;
type Answer = { status?: number; headers?: Record<string, string>; body: Record<string, unknown> };

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const token = options.token ?? 'xoxb-test-token';
  const botUserId = options.botUserId ?? 'UQUENCHBOT';
  const users = new Map<string, FakeSlackUser>();
  for (const u of options.users ?? []) users.set(u.id, u);
  const groups = new Map<string, string[]>(Object.entries(options.groups ?? {}));
  const channels = new Map<string, { id: string; name: string; members: Set<string> }>();
  const messages: FakeSlackMessage[] = [];
  const calls: RecordedCall[] = [];
  const rateLimits = new Map<string, { seconds: number; count: number }>();
  const failures = new Map<string, string>();
  const standingFailures = new Map<string, (args: Record<string, unknown>) => string | undefined>();
  const holds = new Map<string, (args: Record<string, unknown>) => Promise<unknown> | undefined>();
  let tsCounter = 0;
  let channelCounter = 0;
  const nextTs = () => `1767571200.${String(++tsCounter).padStart(6, '0')}`;
  const find = (channel: string, ts: string) => messages.find((m) => m.channel === channel && m.ts === ts);
  const userJson = (u: FakeSlackUser) => ({
    id: u.id,
    team_id: 'T0QUENCH',
    name: u.name,
    real_name: u.realName ?? u.name,
    deleted: false,
    is_bot: false,
    profile: { email: u.email, real_name: u.realName ?? u.name, display_name: u.name },
  });

  const methods: Record<string, (args: Args) => Answer> = {
    'auth.test': () =>
      ok({
        url: 'https://quench-test.slack.com/',
        team: 'Quench',
        user: 'quench',
        team_id: 'T0QUENCH',
        user_id: botUserId,
        bot_id: 'B0QUENCH',
      }),
    'chat.postMessage': (args) => {
      const channel = str(args.channel);
      if (!channel) return err('channel_not_found');
      if (!args.text && !args.blocks) return err('no_text');
      const blocks = blocksOf(args.blocks);
      const invalid = invalidBlocks(blocks);
      if (invalid) return invalid;
      const ts = nextTs();
      messages.push({
        channel,
        ts,
        text: str(args.text) ?? '',
        blocks,
        threadTs: str(args.thread_ts),
        history: [{ text: str(args.text) ?? '', blocks }],
      });
      return ok({ channel, ts, message: { type: 'message', text: args.text, blocks, ts, bot_id: 'B0QUENCH', user: botUserId } });
    },
    'chat.update': (args) => {
      const message = find(str(args.channel) ?? '', str(args.ts) ?? '');
      if (!message) return err('message_not_found');
      const invalid = invalidBlocks(args.blocks === undefined ? undefined : blocksOf(args.blocks));
      if (invalid) return invalid;
      message.text = str(args.text) ?? message.text;
      message.blocks = args.blocks === undefined ? message.blocks : blocksOf(args.blocks);
      message.history.push({ text: message.text, blocks: message.blocks });
      return ok({ channel: message.channel, ts: message.ts, text: message.text });
    },
    'chat.postEphemeral': (args) => {
      if (!str(args.user) || !users.has(str(args.user)!)) return err('user_not_in_channel');
      return ok({ message_ts: nextTs() });
    },
    'chat.getPermalink': (args) =>
      ok({
        channel: args.channel,
        permalink: `https://quench-test.slack.com/archives/${str(args.channel)}/p${String(args.message_ts).replace('.', '')}`,
      }),
    'views.open': (args) => {
      if (!str(args.trigger_id)) return err('invalid_trigger_id');
      const view = typeof args.view === 'string' ? JSON.parse(args.view) : args.view;
      // Slack refuses a view over its limits whole, naming each place (invalid_arguments).
      const invalid = refused('invalid_arguments', viewErrors(view));
      if (invalid) return invalid;
      return ok({ view: { id: `V${String(++channelCounter).padStart(8, '0')}`, ...(view as object) } });
    },
    'users.lookupByEmail': (args) => {
      const user = [...users.values()].find((u) => u.email?.toLowerCase() === str(args.email)?.toLowerCase());
      return user ? ok({ user: userJson(user) }) : err('users_not_found');
    },
    'users.info': (args) => {
      const user = users.get(str(args.user) ?? '');
      return user ? ok({ user: userJson(user) }) : err('user_not_found');
    },
    'usergroups.users.list': (args) => {
      const members = groups.get(str(args.usergroup) ?? '');
      return members ? ok({ users: members }) : err('no_such_subteam');
    },
    'conversations.create': (args) => {
      const name = str(args.name) ?? '';
      if (!/^[a-z0-9_-]{1,80}$/.test(name)) return err('invalid_name_specials');
      if ([...channels.values()].some((c) => c.name === name)) return err('name_taken');
      const id = `C${String(++channelCounter).padStart(8, '0')}`;
      channels.set(id, { id, name, members: new Set([botUserId]) });
      return ok({ channel: { id, name, is_channel: true, created: Math.floor(Date.now() / 1000) } });
    },
    'conversations.join': (args) => {
      const id = str(args.channel) ?? '';
      const channel = channels.get(id) ?? { id, name: id.toLowerCase(), members: new Set<string>() };
      channel.members.add(botUserId);
      channels.set(id, channel);
      return ok({ channel: { id, name: channel.name } });
    },
    'conversations.invite': (args) => {
      const channel = channels.get(str(args.channel) ?? '');
      if (!channel) return err('channel_not_found');
      for (const u of (str(args.users) ?? '').split(',').filter(Boolean)) channel.members.add(u);
      return ok({ channel: { id: channel.id, name: channel.name } });
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = url.pathname.replace(/^\/api\//, '');
    const raw = await readBody(req);
    const args = parseArgs(raw, String(req.headers['content-type'] ?? ''));
    await holds.get(method)?.(args)?.catch(() => undefined);
    const auth = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1] ?? str(args.token);
    const at = Date.now();
    const record = (status: number, error?: string) => calls.push({ method, args, token: auth, at, status, ...(error ? { error } : {}) });
    const limit = rateLimits.get(method);
    if (limit && limit.count > 0) {
      limit.count--;
      record(429);
      res.writeHead(429, { 'Retry-After': String(limit.seconds), 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
    }
    let answer: Answer;
    // Socket Mode: the app-level token opens a WebSocket URL; nothing else accepts it.
    if (method === 'apps.connections.open' && options.appToken && auth === options.appToken) answer = ok({ url: socket.url() });
    else if (auth !== token) answer = err(auth ? 'invalid_auth' : 'not_authed');
    else if (failures.has(method)) {
      answer = err(failures.get(method)!);
      failures.delete(method);
    } else {
      const standing = standingFailures.get(method)?.(args);
      answer = standing ? err(standing) : (methods[method]?.(args) ?? err('unknown_method'));
    }
    record(answer.status ?? 200, answer.body.ok === false ? String(answer.body.error) : undefined);
    res.writeHead(answer.status ?? 200, { 'Content-Type': 'application/json; charset=utf-8', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      res.writeHead(500).end(String(e));
    });
  });
  // Node closes an idle keep-alive socket after 5 s; a client that reuses it just then gets a
  // reset ('fetch failed'), which tests that pause between calls (a fresh database, a clock
  // step) hit at random. Slack keeps connections open far longer; so does the fake, until close().
  server.keepAliveTimeout = 120_000;
  const socket = attachSocketMode(server, () => port);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/api`,
    calls,
    messages,
    channels,
    callsTo: (method) => calls.filter((c) => c.method === method),
    rateLimit: (method, seconds, count = 1) => rateLimits.set(method, { seconds, count }),
    failNext: (method, error) => failures.set(method, error),
    failWhen: (method, error) => void (error ? standingFailures.set(method, error) : standingFailures.delete(method)),
    holdWhen: (method, hold) => void (hold ? holds.set(method, hold) : holds.delete(method)),
    addUser: (user) => users.set(user.id, user),
    setGroup: (groupId, userIds) => groups.set(groupId, userIds),
    message: find,
    socketConnected: () => socket.connected(),
    sendEnvelope: (type, payload) => socket.send(type, payload),
    close: async () => {
      await socket.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

function ok(body: Record<string, unknown>): Answer {
  return { body: { ok: true, ...body } };
}

function err(error: string): Answer {
  return { body: { ok: false, error } };
}

/** Slack refuses the whole message when its blocks break a limit, saying where. */
function invalidBlocks(blocks: unknown[] | undefined): Answer | undefined {
  return blocks === undefined ? undefined : refused('invalid_blocks', blockKitErrors(blocks));
}

/** Slack's refusal of a whole request for what `messages` name (`[ERROR] …` lines); undefined for none. */
function refused(error: string, messages: string[]): Answer | undefined {
  return messages.length === 0 ? undefined : { body: { ok: false, error, response_metadata: { messages } } };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function blocksOf(v: unknown): unknown[] | undefined {
  if (typeof v === 'string') return JSON.parse(v) as unknown[];
  return Array.isArray(v) ? v : undefined;
}

/** Slack's clients send form-encoded bodies with nested values as JSON strings, or JSON. */
function parseArgs(raw: string, contentType: string): Args {
  if (raw === '') return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Args;
  const args: Args = {};
  for (const [k, v] of new URLSearchParams(raw)) args[k] = v;
  return args;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
