/**
 * When this replica runs chain passes. Appends happen inside callers' transactions, whose
 * commit the trail does not see, so after a local append the loop retries soon and then less
 * often (`AFTER_APPEND_MS`) until the entry is chained; a pass that filled a whole batch runs
 * again at once; otherwise it polls every `pollMs`, which also chains what other replicas (or
 * a CLI process, or a chainer that died mid-batch) left behind. No NOTIFY: a wake costs nothing
 * in the recording transaction. Correctness never depends on timing here, only the lag does.
 * The first retry waits 5 ms, not less: the appending transaction is usually still open, and
 * under load a pass every few ms links tens of entries instead of one or two.
 */
export const AFTER_APPEND_MS = [5, 10, 30, 100] as const;
export const CHAIN_POLL_MS = 250;

export interface ChainLoop {
  /** A local append happened (its transaction may not have committed yet). */
  appended(): void;
  start(options: { onError: (err: unknown) => void; pollMs?: number }): void;
  stop(): Promise<void>;
}

export function createChainLoop(options: { pass: () => Promise<number | 'busy'>; batch: number }): ChainLoop {
  let running = false;
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let pollMs = CHAIN_POLL_MS;
  let onError: (err: unknown) => void = () => {};
  /** Index into AFTER_APPEND_MS while appends may still be uncommitted; -1 when settled. */
  let step = -1;
  let appendedDuringPass = false;

  const schedule = (ms: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, ms);
    timer.unref();
  };

  const run = () => {
    timer = undefined;
    if (running || stopped) return;
    running = true;
    appendedDuringPass = false;
    current = options
      .pass()
      .then(
        (n) => {
          if (n === options.batch) return schedule(0);
          if (n === 'busy') return schedule(AFTER_APPEND_MS[0]!);
          if (appendedDuringPass || n > 0) step = 0;
          else if (step >= 0) step += 1;
          if (step >= 0 && step < AFTER_APPEND_MS.length) return schedule(AFTER_APPEND_MS[step]!);
          step = -1;
          schedule(pollMs);
        },
        (err: unknown) => {
          onError(err);
          schedule(pollMs);
        },
      )
      .finally(() => {
        running = false;
      });
  };

  return {
    appended() {
      if (stopped) return;
      if (running) {
        appendedDuringPass = true;
        return;
      }
      if (step < 0 || (timer && step > 0)) {
        step = 0;
        schedule(AFTER_APPEND_MS[0]);
      }
    },
    start(o) {
      onError = o.onError;
      pollMs = o.pollMs ?? CHAIN_POLL_MS;
      stopped = false;
      schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
    },
  };
}
