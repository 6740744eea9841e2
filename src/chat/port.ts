/**
 * The one chat port: what Quench says to people and what it asks about them. Slack implements
 * it (./slack/web.ts); with Slack off, `noChat` keeps every flow working through the CLI and
 * /v1: messages are not sent, and people are known only by their Quench identities.
 */
export interface ChatUser {
  id: string;
  name: string;
  email: string | undefined;
}

export interface ChatMessage {
  text: string;
  blocks?: unknown[];
}

export interface MessageRef {
  channel: string;
  ts: string;
}

export interface ChatPort {
  readonly enabled: boolean;
  /** Posts to a channel (or a user id: a DM), in a thread when `threadTs` is given. */
  post(channel: string, message: ChatMessage, threadTs?: string): Promise<MessageRef | undefined>;
  update(ref: MessageRef, message: ChatMessage): Promise<void>;
  /** A message only `user` sees (refusals). */
  ephemeral(channel: string, user: string, text: string): Promise<void>;
  openView(triggerId: string, view: Record<string, unknown>): Promise<void>;
  userById(id: string): Promise<ChatUser | undefined>;
  userByEmail(email: string): Promise<ChatUser | undefined>;
  groupMembers(groupId: string): Promise<string[]>;
  /** Creates a channel (for a channel per run) and returns its id. */
  createChannel(name: string, invite: string[]): Promise<string>;
}

export const noChat: ChatPort = {
  enabled: false,
  post: async () => undefined,
  update: async () => {},
  ephemeral: async () => {},
  openView: async () => {},
  userById: async () => undefined,
  userByEmail: async () => undefined,
  groupMembers: async () => [],
  createChannel: async () => {
    throw new Error('Slack is off: no channel can be created (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)');
  },
};
