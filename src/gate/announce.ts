import type { ChatPort } from '../chat/port.js';
import type { PagerDutyEvents } from '../pagerduty/events.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * Freezes, lifts and overrides are told to the owning team's Slack channel (through the chat
 * port) and to PagerDuty as change events when PagerDuty is configured. Announcing happens after
 * the change commits and never undoes it: a Slack outage must not unfreeze a service.
 */
export interface Announcement {
  text: string;
  channels: string[];
  details: Record<string, unknown>;
  at: Date;
}

export interface Announcer {
  announce(a: Announcement): Promise<void>;
}

export function createAnnouncer(deps: { chat: () => ChatPort; pagerDuty: PagerDutyEvents | undefined; logger: Logger }): Announcer {
  return {
    async announce(a) {
      const chat = deps.chat();
      if (chat.enabled) {
        for (const channel of a.channels) {
          await chat.post(channel, { text: a.text }).catch((err) => deps.logger.warn({ err: (err as Error).message, channel }, 'gate announcement to Slack failed'));
        }
      }
      if (deps.pagerDuty) {
        await deps.pagerDuty
          .sendChange({ summary: a.text, source: 'quench deploy gate', timestamp: a.at, customDetails: a.details })
          .catch((err) => deps.logger.warn({ err: (err as Error).message }, 'gate change event to PagerDuty failed'));
      }
    },
  };
}
