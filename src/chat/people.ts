import { QuenchError } from '../core/errors.js';
import type { Assign } from '../playbooks/core/model.js';
import type { PagerDutyDirectory } from '../pagerduty/directory.js';
import type { Person } from './core/decision-policy.js';
import type { ChatPort, ChatUser } from './port.js';

/**
 * Turning `assign` entries into people. PagerDuty on-calls are matched to Slack users by email
 * (users.lookupByEmail); named users may be Slack ids, emails or Quench identities. A person
 * keeps every alias, so a decision through the CLI (Quench identity or email) and one in Slack
 * (Slack id) are recognised as the same person.
 */
const SLACK_ID = /^[UW][A-Z0-9]{2,}$/;

export function personOf(user: ChatUser, extra: string[] = []): Person {
  const aliases = [user.id, ...(user.email ? [user.email] : []), ...extra];
  return { aliases: [...new Set(aliases)], display: user.name, slackId: user.id };
}

export function mention(p: Person): string {
  return p.slackId ? `<@${p.slackId}>` : (p.display ?? p.aliases[0] ?? 'someone');
}

export class People {
  constructor(
    private readonly chat: ChatPort,
    private readonly pagerduty: () => PagerDutyDirectory | undefined,
  ) {}

  /** A named user: Slack id, email or Quench identity. */
  async named(entry: string): Promise<Person> {
    if (this.chat.enabled && SLACK_ID.test(entry)) {
      const user = await this.chat.userById(entry);
      if (user) return personOf(user);
    }
    if (this.chat.enabled && entry.includes('@')) {
      const user = await this.chat.userByEmail(entry);
      if (user) return personOf(user);
    }
    return { aliases: [entry], display: entry };
  }

  /**
   * A Slack user who clicked: id, name and email, so email-named assignees match too. When Slack
   * cannot say who it is (users.info failing or rate-limited), this throws `slack_unavailable`
   * rather than answer with the bare id: the rules that tell people apart (the starter may not
   * approve, four-eyes needs two people) would otherwise miss their email and let them through.
   */
  async slackUser(id: string, fallbackName?: string): Promise<Person> {
    let user: ChatUser | undefined;
    try {
      user = await this.chat.userById(id);
    } catch (err) {
      throw new QuenchError(
        'slack_unavailable',
        `Slack did not say who <@${id}> is (users.info: ${(err as Error).message}), so nothing was decided; try again in a moment`,
        { cause: err },
      );
    }
    return user ? personOf(user) : { aliases: [id], display: fallbackName ?? id, slackId: id };
  }

  /** As `slackUser`, but the bare id when Slack cannot answer: for records of who acted (a start, a cancel), never for a rule. */
  async slackUserOrId(id: string, fallbackName?: string): Promise<Person> {
    return this.slackUser(id, fallbackName).catch(() => ({ aliases: [id], display: fallbackName ?? id, slackId: id }));
  }

  /** The on-call people of an escalation policy level or a schedule. */
  async oncall(pd: NonNullable<Assign['pagerduty']>, level: number): Promise<Person[]> {
    const directory = this.pagerduty();
    if (!directory) throw new Error('the step is assigned through PagerDuty, but PagerDuty is off: set PAGERDUTY_TOKEN');
    const target = pd.escalationPolicy ? { escalationPolicy: pd.escalationPolicy, level } : { schedule: pd.schedule ?? '' };
    const people: Person[] = [];
    for (const oncall of await directory.oncall(target)) {
      const user = this.chat.enabled ? await this.chat.userByEmail(oncall.email) : undefined;
      people.push(user ? personOf(user, [oncall.email]) : { aliases: [oncall.email], display: oncall.name });
    }
    return people;
  }

  async levels(escalationPolicy: string): Promise<number> {
    return (await this.pagerduty()?.levels(escalationPolicy)) ?? 1;
  }
}
