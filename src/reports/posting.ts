import type { ChatPort } from '../chat/port.js';
import type { SlackMessage } from './core/render-slack.js';

/**
 * Posting a report to Slack as threads, one per channel, resumable. A scheduled report that
 * Slack refused (an outage at the cron minute, the app not yet in a channel) is tried again
 * later (reports.ts `retryPosts`); what reached Slack is saved after each message, so a retry
 * posts only the messages that are missing, in the thread that exists, and never a second copy
 * of the report.
 */

/**
 * What reached one channel: its thread (the first message), which messages by index, and the
 * share of the report they split (`all` for the report channel, else the services it owns).
 */
export interface ChannelProgress {
  thread?: { channel: string; ts: string } | undefined;
  sent: number[];
  services?: string[] | 'all';
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

/** One channel's share of the report: `all`, or the services whose SLOs it is sent. */
export type Share = 'all' | ReadonlySet<string>;

/**
 * The channels to post to, and each one's share. A channel a message already reached keeps the
 * share it was posted with, though the catalog moved services or dropped the channel since: a
 * message's index must mean the same SLOs on every try (else a retry posts some SLOs twice and
 * others never), and a thread begun is finished. The others follow the catalog as it is now.
 * Each channel's progress records its share before anything is posted.
 */
export function planChannels(current: Map<string, Share>, progress: PostProgress): Array<[string, Share]> {
  const begun = new Map<string, Share>();
  for (const [channel, done] of Object.entries(progress)) {
    if (done.sent.length === 0) continue;
    // Progress saved before shares were recorded: the catalog's share is the best guess left.
    const share = done.services === 'all' ? 'all' : done.services ? new Set(done.services) : current.get(channel);
    if (share) begun.set(channel, share);
  }
  const plan = new Map([...current].map(([channel, share]) => [channel, begun.get(channel) ?? share]));
  for (const [channel, share] of begun) if (!plan.has(channel)) plan.set(channel, share);
  for (const [channel, share] of plan) {
    const done = (progress[channel] ??= { sent: [] });
    if (done.sent.length === 0) done.services = share === 'all' ? 'all' : [...share].sort();
  }
  return [...plan];
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
