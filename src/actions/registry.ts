import { QuenchError } from '../core/errors.js';
import type { ActionCatalog } from '../playbooks/core/model.js';
import type { ActionDefinition } from './action.js';

/**
 * The registered actions. It is the playbook validator's `ActionCatalog` too, so `quench
 * validate` knows exactly the actions the engine can run.
 */
export class ActionRegistry implements ActionCatalog {
  readonly #actions = new Map<string, ActionDefinition>();

  register<P>(action: ActionDefinition<P>): this {
    if (this.#actions.has(action.name)) {
      throw new QuenchError('conflict', `action '${action.name}' is already registered; action names are unique`);
    }
    this.#actions.set(action.name, action as ActionDefinition);
    return this;
  }

  get(name: string): ActionDefinition | undefined {
    return this.#actions.get(name);
  }

  names(): string[] {
    return [...this.#actions.keys()].sort();
  }
}
