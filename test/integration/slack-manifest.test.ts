import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { APP_SCOPES, WEB_API_SCOPES } from '../../src/chat/slack/scopes.js';
import { repoRoot } from '../support/quench-process.js';

/**
 * Issue 15: the Slack app manifests in deploy/slack/ are what a user pastes to create the app,
 * so they must match the code: every slash command the code registers is in both manifests
 * and nothing else is, every Web API method the code calls is in the scope table
 * (src/chat/slack/scopes.ts) and its scopes are requested (and no scope nobody needs), event
 * subscriptions match `app.event` listeners, and each file is a manifest as Slack documents it
 * (field names and limits of https://docs.slack.dev/reference/app-manifest; scope and event
 * names from the official @slack/web-api typings).
 */
const MANIFESTS = { http: 'deploy/slack/manifest-http.yaml', socket: 'deploy/slack/manifest-socket-mode.yaml' } as const;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}
const sources = sourceFiles(join(repoRoot, 'src')).map((path) => ({ path: relative(repoRoot, path), text: readFileSync(path, 'utf8') }));
const found = (pattern: RegExp) => [...new Set(sources.flatMap((s) => [...s.text.matchAll(pattern)].map((m) => m[1]!)))].sort();

/** Slack's own lists of bot scopes and event types, as its SDK types them (request/manifest.d.ts). */
const typings = readFileSync(join(repoRoot, 'node_modules/@slack/web-api/dist/types/request/manifest.d.ts'), 'utf8');
const union = (name: string) => [...(new RegExp(`type ${name} = ([^;]+);`).exec(typings)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]!);
const botScopes = union('BotScope');
const events = union('ManifestEvent');

const https = z.url({ protocol: /^https$/ });
const slashCommand = z.strictObject({
  command: z.string().regex(/^\/[a-z0-9_-]+$/).max(32),
  description: z.string().min(1).max(2000),
  usage_hint: z.string().max(1000).optional(),
  should_escape: z.boolean().optional(),
  url: https.optional(),
});
/** The manifest fields Quench uses, strict: a misspelt key or a value past Slack's limits fails. */
const manifestSchema = z.strictObject({
  _metadata: z.strictObject({ major_version: z.literal([1, 2]), minor_version: z.number().int().min(0) }).optional(),
  display_information: z.strictObject({
    name: z.string().min(1).max(35),
    description: z.string().max(140).optional(),
    long_description: z.string().min(175).max(4000).optional(),
    background_color: z.string().regex(/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/).optional(),
  }),
  features: z.strictObject({
    bot_user: z.strictObject({ display_name: z.string().regex(/^[a-z0-9._-]{1,80}$/), always_online: z.boolean().optional() }),
    slash_commands: z.array(slashCommand).max(50),
  }),
  oauth_config: z.strictObject({
    scopes: z.strictObject({ bot: z.array(z.string().refine((s) => botScopes.includes(s), 'not a Slack bot scope')).min(1).max(255) }),
  }),
  settings: z.strictObject({
    event_subscriptions: z
      .strictObject({ request_url: https.optional(), bot_events: z.array(z.string().refine((e) => events.includes(e), 'not a Slack event')).max(100) })
      .optional(),
    interactivity: z.strictObject({ is_enabled: z.boolean(), request_url: https.optional() }),
    org_deploy_enabled: z.boolean().optional(),
    socket_mode_enabled: z.boolean(),
    token_rotation_enabled: z.boolean().optional(),
  }),
});
type Manifest = z.infer<typeof manifestSchema>;

function load(file: string): Manifest {
  const doc = parseDocument(readFileSync(join(repoRoot, file), 'utf8'), { prettyErrors: true, uniqueKeys: true });
  expect(doc.errors.map((e) => e.message), `${file} is not valid YAML`).toEqual([]);
  const parsed = manifestSchema.safeParse(doc.toJS());
  expect(parsed.error?.issues ?? [], `${file} is not a Slack app manifest`).toEqual([]);
  return parsed.data!;
}

describe('the Slack app manifests in deploy/slack match the code and Slack’s format', () => {
  // Loaded in each test, so a broken file fails the tests that read it (not the collection).
  const manifest = (mode: keyof typeof MANIFESTS) => load(MANIFESTS[mode]);
  const modes = Object.keys(MANIFESTS) as Array<keyof typeof MANIFESTS>;
  const commandsInCode = found(/app\.command\(\s*'([^']+)'/g);
  const methodsInCode = found(/\bclient\.([a-z]+(?:\.[a-zA-Z]+)+)\(/g);
  const eventsInCode = found(/\bapp\.event\(\s*'([^']+)'/g);

  it('Slack’s typings were read (the checks below are not vacuous)', () => {
    expect(botScopes).toContain('chat:write');
    expect(events).toContain('app_mention');
    expect(commandsInCode).toContain('/quench');
    expect(methodsInCode).toContain('chat.postMessage');
  });

  it.each(modes)('%s: parses as a Slack app manifest', (mode) => {
    expect(manifest(mode).display_information.name).toBe('Quench');
  });

  it.each(modes)('%s: every slash command the code handles is in the manifest, and only those', (mode) => {
    const m = manifest(mode);
    expect(m.features.slash_commands.map((c) => c.command).sort()).toEqual(commandsInCode);
  });

  it('every Web API method the code calls has its scopes in the table, and the table lists nothing the code does not call', () => {
    expect(Object.keys(WEB_API_SCOPES).sort()).toEqual(methodsInCode);
  });

  it.each(modes)('%s: requests exactly the scopes the calls and slash commands need', (mode) => {
    const m = manifest(mode);
    const needed = new Set<string>([...APP_SCOPES, ...Object.values(WEB_API_SCOPES).flat()]);
    expect([...m.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
    for (const scope of needed) expect(botScopes).toContain(scope);
  });

  it.each(modes)('%s: subscribes to exactly the events the code listens to', (mode) => {
    const m = manifest(mode);
    expect([...(m.settings.event_subscriptions?.bot_events ?? [])].sort()).toEqual(eventsInCode);
  });

  it('HTTP mode sends commands and interactivity to POST /slack/events over HTTPS; Socket Mode needs no URL', () => {
    const [http, socket] = [manifest('http'), manifest('socket')];
    expect(http.settings.socket_mode_enabled).toBe(false);
    expect(http.settings.interactivity).toEqual({ is_enabled: true, request_url: 'https://quench.example.com/slack/events' });
    for (const c of http.features.slash_commands) expect(c.url).toBe('https://quench.example.com/slack/events');
    expect(socket.settings.socket_mode_enabled).toBe(true);
    expect(socket.settings.interactivity).toEqual({ is_enabled: true });
    for (const c of socket.features.slash_commands) expect(c.url).toBeUndefined();
    // The route the HTTP manifest names is the one the chat capability mounts.
    expect(sources.find((s) => s.path === join('src', 'chat', 'capability.ts'))!.text).toContain("pattern: '/slack/events'");
    // Apart from the mode, the two are the same app.
    const strip = (m: Manifest) => ({
      ...m,
      features: { ...m.features, slash_commands: m.features.slash_commands.map(({ url: _url, ...c }) => c) },
      settings: { ...m.settings, interactivity: { is_enabled: m.settings.interactivity.is_enabled }, socket_mode_enabled: null },
    });
    expect(strip(socket)).toEqual(strip(http));
  });

  it('the /quench usage hint names every sub-command the dispatcher answers', () => {
    const dispatcher = sources.find((s) => s.path === join('src', 'chat', 'slack', 'commands.ts'))!.text;
    const cases = [...dispatcher.matchAll(/case '([a-z]+)':/g)].map((m) => m[1]!).filter((c) => c !== 'reviews');
    const hint = manifest('http').features.slash_commands.find((c) => c.command === '/quench')!.usage_hint!;
    for (const sub of cases) expect(hint.split(/\s*\|\s*/).map((w) => w.split(' ')[0])).toContain(sub);
  });

  it('docs/slack.md sets the app up from these files', () => {
    const docs = readFileSync(join(repoRoot, 'docs/slack.md'), 'utf8');
    expect(docs).toContain(MANIFESTS.http);
    expect(docs).toContain(MANIFESTS.socket);
  });
});
