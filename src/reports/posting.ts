import type { ChatPort } from '../chat/port.js';
import type { SlackMessage } from './core/render-slack.js';

/**
 * Posting a report to Slack as threads, one per channel, resumable. A scheduled report that
 * Slack refused (an outage at the cron minute, the app not yet in a channel) is tried again
 * later (reports.ts `retryPosts`); what reached Slack is saved after each message, so a retry
 * posts only the messages that are missing, in the thread that exists, and never a second copy
 * of the report.
 */

/** What reached one channel: its thread (the first message), and which messages by index. */
export interface ChannelProgress {
  thread?: { channel: string; ts: string } | undefined;
  sent: number[];
}

/** Per configured channel name (QUENCH_REPORT_CHANNEL, or an SLO owner's channel). */
export type PostProgress = Record<string, ChannelProgress>;

/**
 * The poster's hold on the report: `save` stores the progress after each message, `held` is
 * checked before each one (a renewal found the lease taken); either false means stop.
 */
export interface PostingHold {
  save(): Promise<boolean>;
  held(): boolean;
}

export class PostingLeaseLost extends Error {
  constructor() {
    super('another replica took over posting this report (the posting lease ran out)');
    this.name = 'PostingLeaseLost';
  }
}

/**
 * The first message to the channel, the others as replies in its thread, in order, skipping
 * those `done` already holds. A reply that fails does not stop the ones after it (each carries
 * other SLOs); the first failure is thrown once all were tried. Without its first message a
 * channel has no thread: nothing else is posted there.
 */
export async function postThread(chat: ChatPort, channel: string, messages: SlackMessage[], done: ChannelProgress, hold: PostingHold): Promise<void> {
  const [first, ...replies] = messages;
  if (!first) return;
  const sent = new Set(done.sent);
  const record = async (index: number) => {
    sent.add(index);
    done.sent = [...sent].sort((a, b) => a - b);
    if (!(await hold.save())) throw new PostingLeaseLost();
  };
  const mayPost = () => {
    if (!hold.held()) throw new PostingLeaseLost();
  };
  if (!sent.has(0)) {
    mayPost();
    const ref = await chat.post(channel, first);
    if (ref) done.thread = { channel: ref.channel, ts: ref.ts };
    await record(0);
  }
  let failure: unknown;
  for (const [i, reply] of replies.entries()) {
    if (sent.has(i + 1)) continue;
    mayPost();
    try {
      await chat.post(done.thread?.channel ?? channel, reply, done.thread?.ts);
    } catch (err) {
      failure ??= err;
      continue;
    }
    await record(i + 1);
  }
  if (failure !== undefined) throw failure;
}
