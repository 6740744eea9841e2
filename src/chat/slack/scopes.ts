/**
 * Every Slack Web API method Quench calls, with the bot scopes Slack requires for it
 * (https://docs.slack.dev/reference/methods). The app manifests in deploy/slack/ request exactly
 * these plus `commands`; test/integration/slack-manifest.test.ts checks both directions against
 * the calls in the code, and a `missing_scope` error names the scope from here (web.ts).
 */
export const WEB_API_SCOPES = {
  'chat.postMessage': ['chat:write', 'chat:write.public'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'views.open': [],
  'users.info': ['users:read'],
  'users.lookupByEmail': ['users:read.email'],
  'usergroups.users.list': ['usergroups:read'],
  // Only with QUENCH_SLACK_CHANNEL_PER_RUN=true.
  'conversations.create': ['channels:manage'],
  'conversations.invite': ['channels:manage'],
} as const satisfies Record<string, readonly string[]>;

export type WebApiMethod = keyof typeof WEB_API_SCOPES;

/** Scopes that no Web API call needs but the app does: slash commands. */
export const APP_SCOPES = ['commands'] as const;
