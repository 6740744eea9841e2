import type { webApi } from '@slack/bolt';
import { z } from 'zod';
import { QuenchError } from '../../core/errors.js';
import { clientSpan } from '../../telemetry/otel.js';
import type { ChatPort, ChatUser } from '../port.js';
import { WEB_API_SCOPES, type WebApiMethod } from './scopes.js';

/**
 * The chat port over Bolt's WebClient. The client itself honours 429 + Retry-After (it pauses
 * its queue for the advertised seconds and retries), so callers here never see a rate limit
 * unless it persists past the retry budget. Responses we read are parsed with a schema each.
 */
const userSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  real_name: z.string().optional(),
  profile: z.looseObject({ email: z.string().optional(), real_name: z.string().optional() }).optional(),
});
const postSchema = z.looseObject({ channel: z.string(), ts: z.string() });
const groupSchema = z.looseObject({ users: z.array(z.string()) });
const channelSchema = z.looseObject({ channel: z.looseObject({ id: z.string() }) });

function toUser(raw: unknown): ChatUser {
  const u = userSchema.parse(raw);
  return { id: u.id, name: u.real_name || u.profile?.real_name || u.name, email: u.profile?.email };
}

/** Slack answers `{ok: false, error}`; the WebClient throws it with `data.error`. */
function slackError(err: unknown): string | undefined {
  return (err as { data?: { error?: string } }).data?.error;
}

function wrap(what: WebApiMethod, err: unknown): QuenchError {
  const code = slackError(err);
  const hint =
    code === 'invalid_auth' || code === 'not_authed'
      ? ': check SLACK_BOT_TOKEN'
      : code === 'missing_scope'
        ? `: give the app the bot scope ${WEB_API_SCOPES[what].join(' / ')} (deploy/slack/manifest-*.yaml) and reinstall it`
        : code === 'channel_not_found' || code === 'not_in_channel'
          ? ': invite the Quench app to the channel'
          : '';
  return new QuenchError('internal', `Slack ${what} failed (${code ?? (err as Error).message})${hint}`, { cause: err });
}

/**
 * One Web API call: a client span (HTTP semantic conventions: `POST /api/<method>`, Slack's
 * `url.full`, `server.address`; `error.type` on failure; free when tracing is off) and Slack's
 * errors turned into a QuenchError that says what to fix. `absent` names the error that means
 * "no such user", answered as undefined instead.
 */
async function call<T>(client: webApi.WebClient, what: WebApiMethod, fn: () => Promise<T>, absent?: string): Promise<T | undefined> {
  const base = client.slackApiUrl;
  const url = new URL(what, base.endsWith('/') ? base : `${base}/`);
  try {
    return await clientSpan(
      `POST ${url.pathname}`,
      { 'http.request.method': 'POST', 'url.full': url.href, 'url.template': url.pathname, 'server.address': url.hostname, 'slack.method': what },
      fn,
    );
  } catch (err) {
    if (absent && slackError(err) === absent) return undefined;
    throw wrap(what, err);
  }
}

/** A call whose answer is always there (only `absent` can make it undefined). */
async function must<T>(client: webApi.WebClient, what: WebApiMethod, fn: () => Promise<T>): Promise<T> {
  return (await call(client, what, fn)) as T;
}

export function slackChat(client: webApi.WebClient): ChatPort {
  return {
    enabled: true,
    async post(channel, message, threadTs) {
      const res = await must(client, 'chat.postMessage', () =>
        client.chat.postMessage({ channel, text: message.text, blocks: message.blocks as never, ...(threadTs ? { thread_ts: threadTs } : {}) }),
      );
      const { ts, channel: id } = postSchema.parse(res);
      return { channel: id, ts };
    },
    async update(ref, message) {
      await must(client, 'chat.update', () => client.chat.update({ channel: ref.channel, ts: ref.ts, text: message.text, blocks: (message.blocks ?? []) as never }));
    },
    async ephemeral(channel, user, text) {
      await must(client, 'chat.postEphemeral', () => client.chat.postEphemeral({ channel, user, text }));
    },
    async openView(triggerId, view) {
      await must(client, 'views.open', () => client.views.open({ trigger_id: triggerId, view: view as never }));
    },
    async userById(id) {
      const res = await call(client, 'users.info', () => client.users.info({ user: id }), 'user_not_found');
      return res && toUser(res.user);
    },
    async userByEmail(email) {
      const res = await call(client, 'users.lookupByEmail', () => client.users.lookupByEmail({ email }), 'users_not_found');
      return res && toUser(res.user);
    },
    async groupMembers(groupId) {
      return groupSchema.parse(await must(client, 'usergroups.users.list', () => client.usergroups.users.list({ usergroup: groupId }))).users;
    },
    async createChannel(name, invite) {
      const { channel } = channelSchema.parse(await must(client, 'conversations.create', () => client.conversations.create({ name })));
      if (invite.length > 0) await must(client, 'conversations.invite', () => client.conversations.invite({ channel: channel.id, users: invite.join(',') }));
      return channel.id;
    },
  };
}
