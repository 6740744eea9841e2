import { asQuenchError } from '../core/errors.js';
import type { Actor } from './core/model.js';
import type { DeployGate } from './gate.js';

/** Narrow port onto chat's people directory: a Slack user id → every alias (id, email). */
export type SlackAliases = (slackUserId: string) => Promise<string[]>;

/**
 * The gate in Slack: `/quench freeze|unfreeze|override|gate …`, answered in the slash command's
 * acknowledgement. Slack users act as `slack:<user id>`; for override four-eyes they are also
 * known by their Slack id and profile email (from chat's directory), so a token user with that
 * name is the same person.
 */
export const GATE_USAGE =
  '`/quench freeze SERVICE[,SERVICE…|*] UNTIL REASON` (UNTIL: 4h or 2026-12-24T18:00:00Z) · `/quench unfreeze ID` · ' +
  '`/quench override request SERVICE UNTIL [change=ID] REASON` · `/quench override approve ID` · `/quench gate SERVICE [low|high]`';

export interface GateForChat {
  slash(sub: string, args: string[], slackUser: string): Promise<string>;
  statusLines(): string[];
}

export function gateForChat(gate: DeployGate, aliasesOf: SlackAliases = async (id) => [id]): GateForChat {
  return {
    statusLines: () => {
      const lines = gate.describeFreezes();
      return [`*Deploy freezes (${lines.length}):*${lines.length ? '' : ' none'}`, ...lines.map((l) => `• ${l}`)];
    },
    async slash(sub, args, slackUser) {
      const by = `slack:${slackUser}`;
      const actor = async (): Promise<Actor> => ({ name: by, aliases: [by, ...(await aliasesOf(slackUser))] });
      try {
        switch (sub) {
          case 'freeze': {
            const [services, until, ...reason] = args;
            if (!services || !until || reason.length === 0) return GATE_USAGE;
            const f = await gate.freeze({ services: services.split(','), until, reason: reason.join(' '), by });
            return `Freeze \`${f.id}\` on ${f.services.join(', ')} until ${f.until}.`;
          }
          case 'unfreeze': {
            if (!args[0]) return GATE_USAGE;
            const f = await gate.unfreeze(args[0], by);
            return `Freeze \`${f.id}\` lifted.`;
          }
          case 'override': {
            const [action, ...rest] = args;
            if (action === 'approve' && rest[0]) {
              const o = await gate.approveOverride(rest[0], await actor());
              return `Override \`${o.id}\`: approved by ${o.approvers.join(', ')}${o.approvers.length >= 2 ? `; in force until ${o.until}` : '; needs one more approver'}.`;
            }
            if (action !== 'request') return GATE_USAGE;
            const [service, until, ...words] = rest;
            const change = words.find((w) => w.startsWith('change='))?.slice('change='.length);
            const reason = words.filter((w) => !w.startsWith('change=')).join(' ');
            if (!service || !until || !reason) return GATE_USAGE;
            const o = await gate.requestOverride({ service, changeId: change, until, reason, by: await actor() });
            return `Override \`${o.id}\` requested for ${o.service} (${o.changeId ? `change ${o.changeId}` : 'every change'}) until ${o.until}; two other people approve with \`/quench override approve ${o.id}\`.`;
          }
          case 'gate': {
            if (!args[0]) return GATE_USAGE;
            const risk = args[1] === 'low' ? 'low' : 'high';
            return gate.describe(gate.answer(args[0], risk, undefined));
          }
          default:
            return GATE_USAGE;
        }
      } catch (err) {
        return `Refused: ${asQuenchError(err).message}`;
      }
    },
  };
}
