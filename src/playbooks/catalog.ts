import { builtinActions } from '../actions/builtins.js';
import { gateActions } from '../gate/actions.js';
import { pagerDutyActions } from '../pagerduty/actions.js';
import type { ActionCatalog } from './core/catalog.js';

/**
 * Every action a playbook may name, for `quench validate`, which checks playbooks without
 * starting the service: the engine's built-ins plus the actions other capabilities register
 * when they start (PagerDuty now; Slack and the deploy gate when they define theirs: add them
 * here). Actions are only described, never run, so no client or credential is needed.
 * The running service validates against its live registry instead (./capability.ts).
 */
export function knownActions(): ActionCatalog {
  const registry = builtinActions();
  for (const action of pagerDutyActions({ events: undefined, directory: undefined, fromEmail: undefined })) registry.register(action);
  for (const action of gateActions()) registry.register(action);
  return registry;
}
