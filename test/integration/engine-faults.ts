import type { AuditTrail } from '../../src/audit/trail.js';
import type { Database } from '../../src/db/database.js';

/**
 * Fault injection for engine tests, at the edges the engine talks to (its database handle and
 * its audit trail): a hook that runs before the next transaction starts (to land a concurrent
 * change in an exact window), a commit whose answer is lost, updates that fail as if the connection were gone (heartbeats),
 * and audit appends that fail on demand. Everything underneath stays real.
 */
export interface DatabaseFaults {
  /** Runs once, before the next transaction through the wrapped handle begins. */
  beforeNextTransaction?: () => Promise<void>;
  /** While true, `orm.update(...)` outside transactions throws (a lost connection). */
  failUpdates: boolean;
  /** While true, `orm.select(...)` outside transactions throws (a lost connection, or a process dying there). */
  failSelects: boolean;
  /** The next transaction commits, then throws as if the connection dropped before COMMIT's answer came back. */
  loseNextCommitAnswer: boolean;
}

export function faultyDatabase(db: Database): { db: Database; faults: DatabaseFaults } {
  const faults: DatabaseFaults = { failUpdates: false, failSelects: false, loseNextCommitAnswer: false };
  const orm = new Proxy(db.orm, {
    get(target, prop) {
      if (prop === 'transaction') {
        return async (...args: Parameters<Database['orm']['transaction']>) => {
          const before = faults.beforeNextTransaction;
          faults.beforeNextTransaction = undefined;
          if (before) await before();
          const lose = faults.loseNextCommitAnswer;
          faults.loseNextCommitAnswer = false;
          const result = await target.transaction(...args);
          if (lose) throw Object.assign(new Error('write CONNECTION_CLOSED (injected: COMMIT landed, its answer did not)'), { code: 'CONNECTION_CLOSED' });
          return result;
        };
      }
      if ((prop === 'update' && faults.failUpdates) || (prop === 'select' && faults.failSelects)) {
        return () => {
          throw new Error('connection terminated unexpectedly (injected)');
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: { ...db, orm }, faults };
}

/** An audit trail whose appends fail while `shouldFail(action)` says so. */
export function faultyAudit(trail: AuditTrail, shouldFail: (action: string) => boolean): AuditTrail {
  return new Proxy(trail, {
    get(target, prop) {
      if (prop === 'append') {
        return async (...args: Parameters<AuditTrail['append']>) => {
          if (shouldFail(args[0].action)) throw new Error(`audit append of ${args[0].action} failed (injected)`);
          return target.append(...args);
        };
      }
      if (prop === 'appendMany') {
        return async (...args: Parameters<AuditTrail['appendMany']>) => {
          const failing = args[0].find((input) => shouldFail(input.action));
          if (failing) throw new Error(`audit append of ${failing.action} failed (injected)`);
          return target.appendMany(...args);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
