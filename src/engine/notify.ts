import type { Runtime } from './runtime.js';

/** Notifier calls are best-effort: a failure is logged and never undoes or blocks a run. */
export async function notifySafely(rt: Runtime, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    rt.logger.warn({ err }, 'human step notifier failed; the step still waits for a decision through the CLI or /v1');
  }
}
