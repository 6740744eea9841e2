import { QuenchError } from '../core/errors.js';
import { escalationPolicyResponse, incidentsResponse, noteResponse, oncallsResponse, type PagerDutyRest, userResponse } from './rest.js';

/**
 * Who is on call, and the incident notes: the PagerDuty REST reads the human-step assignment
 * needs. On-call people come back with their email, which the chat side matches to a Slack user.
 */
export interface OncallPerson {
  id: string;
  name: string;
  email: string;
}

export type OncallTarget = { escalationPolicy: string; level?: number } | { schedule: string };

export class PagerDutyDirectory {
  readonly #rest: PagerDutyRest;

  constructor(rest: PagerDutyRest) {
    this.#rest = rest;
  }

  /** The people on call now for a schedule, or at one level (default 1) of an escalation policy. */
  async oncall(target: OncallTarget): Promise<OncallPerson[]> {
    const query: Record<string, string[]> =
      'schedule' in target ? { 'schedule_ids[]': [target.schedule] } : { 'escalation_policy_ids[]': [target.escalationPolicy] };
    const { oncalls } = await this.#rest.get('oncalls', oncallsResponse, query);
    const level = 'schedule' in target ? undefined : (target.level ?? 1);
    const userIds = [...new Set(oncalls.filter((o) => level === undefined || o.escalation_level === level).map((o) => o.user.id))];
    // Sequential on purpose: a handful of users, and PagerDuty rate-limits per key.
    const people: OncallPerson[] = [];
    for (const id of userIds) {
      const { user } = await this.#rest.get(`users/${encodeURIComponent(id)}`, userResponse);
      people.push({ id: user.id, name: user.name, email: user.email });
    }
    return people;
  }

  /** How many levels the escalation policy has: escalation past the last one has nowhere to go. */
  async levels(escalationPolicy: string): Promise<number> {
    const { escalation_policy } = await this.#rest.get(
      `escalation_policies/${encodeURIComponent(escalationPolicy)}`,
      escalationPolicyResponse,
    );
    return escalation_policy.escalation_rules.length;
  }

  /** The open incident PagerDuty made for an Events API dedup key, if any. */
  async incidentFor(dedupKey: string): Promise<string | undefined> {
    const { incidents } = await this.#rest.get('incidents', incidentsResponse, { incident_key: dedupKey });
    return (incidents.find((i) => i.status !== 'resolved') ?? incidents[0])?.id;
  }

  /** Adds a note; PagerDuty attributes it to the user whose email is in `From`. */
  async addNote(incidentId: string, content: string, fromEmail: string | undefined): Promise<{ id: string }> {
    if (!fromEmail) {
      throw new QuenchError(
        'config_invalid',
        'PagerDuty notes need a requester: set PAGERDUTY_FROM_EMAIL to the email of a PagerDuty user',
        {
          details: { retryable: false },
        },
      );
    }
    const { note } = await this.#rest.post(
      `incidents/${encodeURIComponent(incidentId)}/notes`,
      noteResponse,
      { note: { content } },
      { From: fromEmail },
    );
    return { id: note.id };
  }
}
