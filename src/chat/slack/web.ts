import type { webApi } from '@slack/bolt';
import { z } from 'zod';
import { QuenchError } from '../../core/errors.js';
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

export function slackChat(client: webApi.WebClient): ChatPort {
  return {
    enabled: true,
    async post(channel, message, threadTs) {
      try {
        const res = await client.chat.postMessage({
          channel,
          text: message.text,
          blocks: message.blocks as never,
          ...(threadTs ? { thread_ts: threadTs } : {}),
        });
        const { ts, channel: id } = postSchema.parse(res);
        return { channel: id, ts };
      } catch (err) {
        throw wrap('chat.postMessage', err);
      }
    },
    async update(ref, message) {
      try {
        await client.chat.update({ channel: ref.channel, ts: ref.ts, text: message.text, blocks: (message.blocks ?? []) as never });
      } catch (err) {
        throw wrap('chat.update', err);
      }
    },
    async ephemeral(channel, user, text) {
      try {
        await client.chat.postEphemeral({ channel, user, text });
      } catch (err) {
        throw wrap('chat.postEphemeral', err);
      }
    },
    async openView(triggerId, view) {
      try {
        await client.views.open({ trigger_id: triggerId, view: view as never });
      } catch (err) {
        throw wrap('views.open', err);
      }
    },
    async userById(id) {
      try {
        return toUser((await client.users.info({ user: id })).user);
      } catch (err) {
        if (slackError(err) === 'user_not_found') return undefined;
        throw wrap('users.info', err);
      }
    },
    async userByEmail(email) {
      try {
        return toUser((await client.users.lookupByEmail({ email })).user);
      } catch (err) {
        if (slackError(err) === 'users_not_found') return undefined;
        throw wrap('users.lookupByEmail', err);
      }
    },
    async groupMembers(groupId) {
      try {
        return groupSchema.parse(await client.usergroups.users.list({ usergroup: groupId })).users;
      } catch (err) {
        throw wrap('usergroups.users.list', err);
      }
    },
    async createChannel(name, invite) {
      try {
        const { channel } = channelSchema.parse(await client.conversations.create({ name }));
        if (invite.length > 0) await client.conversations.invite({ channel: channel.id, users: invite.join(',') });
        return channel.id;
      } catch (err) {
        throw wrap('conversations.create', err);
      }
    },
  };
}
