import { createHmac } from 'node:crypto';

/**
 * Builds requests the way Slack sends them to an app's Request URL: interactivity payloads as
 * `application/x-www-form-urlencoded` with one `payload=<JSON>` field, slash commands as plain
 * form fields, and both signed with v0 (`v0=hex(HMAC-SHA256(secret, "v0:<ts>:<body>"))`).
 * https://api.slack.com/authentication/verifying-requests-from-slack
 */
export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export function signedRequest(
  secret: string,
  body: string,
  options: { timestamp: number; retryNum?: number; contentType: string },
): SignedRequest {
  const headers: Record<string, string> = {
    'Content-Type': options.contentType,
    'X-Slack-Request-Timestamp': String(options.timestamp),
    'X-Slack-Signature': slackSignature(secret, options.timestamp, body),
  };
  if (options.retryNum !== undefined) {
    headers['X-Slack-Retry-Num'] = String(options.retryNum);
    headers['X-Slack-Retry-Reason'] = 'http_timeout';
  }
  return { body, headers };
}

export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export function slashCommandBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export const FORM = 'application/x-www-form-urlencoded';

/** A `block_actions` payload for a button click, as Slack sends it. */
export function buttonClick(args: {
  user: { id: string; name: string };
  actionId: string;
  value: string;
  channel: string;
  messageTs: string;
  actionTs?: string;
  triggerId?: string;
}): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: { id: args.user.id, username: args.user.name, name: args.user.name, team_id: 'T0QUENCH' },
    api_app_id: 'A0QUENCH',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: args.messageTs, channel_id: args.channel, is_ephemeral: false },
    trigger_id: args.triggerId ?? `${Date.now()}.1234.abcdef`,
    team: { id: 'T0QUENCH', domain: 'quench-test' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: args.channel, name: 'incident' },
    message: { type: 'message', ts: args.messageTs, text: '' },
    response_url: 'https://hooks.slack.com/actions/T0QUENCH/1/abc',
    actions: [
      {
        action_id: args.actionId,
        block_id: 'decision',
        value: args.value,
        type: 'button',
        action_ts: args.actionTs ?? '1767571300.000100',
        text: { type: 'plain_text', text: args.actionId, emoji: true },
      },
    ],
  };
}

/** A `view_submission` payload for a modal with plain-text inputs or user pickers. */
export function viewSubmission(args: {
  user: { id: string; name: string };
  callbackId: string;
  privateMetadata: string;
  values: Record<string, Record<string, string>>;
  viewId?: string;
}): Record<string, unknown> {
  const values: Record<string, Record<string, Record<string, string>>> = {};
  for (const [block, actions] of Object.entries(args.values)) {
    values[block] = {};
    // A user id answers a users_select element; anything else a plain-text input.
    for (const [action, value] of Object.entries(actions)) {
      values[block]![action] = /^U[0-9A-Z]+$/.test(value)
        ? { type: 'users_select', selected_user: value }
        : { type: 'plain_text_input', value };
    }
  }
  return {
    type: 'view_submission',
    team: { id: 'T0QUENCH', domain: 'quench-test' },
    user: { id: args.user.id, username: args.user.name, name: args.user.name, team_id: 'T0QUENCH' },
    api_app_id: 'A0QUENCH',
    token: 'legacy-verification-token',
    trigger_id: `${Date.now()}.5678.fedcba`,
    view: {
      id: args.viewId ?? 'V0000REJECT',
      team_id: 'T0QUENCH',
      type: 'modal',
      callback_id: args.callbackId,
      private_metadata: args.privateMetadata,
      hash: '1767571300.abc',
      state: { values },
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}
