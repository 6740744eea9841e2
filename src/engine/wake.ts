import type { Database } from '../db/database.js';

/** The channel other replicas' workers listen on. */
export const WAKE_CHANNEL = 'quench_engine';

/**
 * Wakes workers after a change that made a step due has committed. Never inside the
 * transaction: a NOTIFY makes PostgreSQL serialise committing transactions on one lock, held
 * through the WAL flush (see src/ingest/wake.ts for the measurement). Workers of this process
 * are woken in process at once; other replicas by one NOTIFY, sent outside any transaction, at
 * most every `intervalMs` (the first at once, later ones at the end of the interval). The
 * workers' poll is the backstop if a NOTIFY is lost; durability never depends on it.
 */
export interface EngineWaker {
  /** A change that made a step due committed. */
  wake(): void;
  /** Subscribes a local worker; returns the unsubscribe function. */
  onWake(listener: () => void): () => void;
}

export function createEngineWaker(db: Database, onError: (err: unknown) => void, intervalMs = 50): EngineWaker {
  const listeners = new Set<() => void>();
  let lastSent = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  const send = () => {
    timer = undefined;
    lastSent = Date.now();
    db.notify(WAKE_CHANNEL, 'step').catch(onError);
  };
  return {
    wake() {
      for (const listener of listeners) listener();
      if (timer) return;
      const wait = lastSent + intervalMs - Date.now();
      if (wait <= 0) return send();
      timer = setTimeout(send, wait);
      timer.unref();
    },
    onWake(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
