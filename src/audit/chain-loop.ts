/**
 * When this replica runs chain passes. Appends happen inside callers' transactions, whose
 * commit the trail does not see, so after a local append the loop retries soon and then less
 * often (`AFTER_APPEND_MS`) until the entry is chained; a pass that filled a whole batch runs
 * again at once; otherwise it polls every `pollMs`, which also chains what other replicas (or
 * a CLI process, or a chainer that died mid-batch) left behind. No NOTIFY: a wake costs nothing
 * in the recording transaction. Correctness never depends on timing here, only the lag does.
 * The first retry waits 5 ms, not less: the appending transaction is usually still open.
 *
 * Pacing under sustained load: after a pass that linked entries (but did not fill a batch), the
 * next one starts `CHAIN_PACE_MS` after that pass started, not 5 ms after it ended. A pass costs
 * about as much for one entry as for ten (its transaction, lock, head read, two writes), so
 * while appends keep coming each pass links a pace's worth of them: at 900 entries/s, 46 per
 * pass instead of 14, and the chainer's CPU per entry fell by a third to a half, in the process
 * and in PostgreSQL (engine figures in ARCHITECTURE.md). The lag this adds is bounded: while
 * passes keep linking, an entry committed is chained by the next pass, at most `CHAIN_PACE_MS`
 * plus one pass after its commit (a full batch runs the next pass at once); otherwise the
 * retries and the poll bound it as before, and the first entry after a quiet spell still gets
 * the 5 ms retry.
 */
export const AFTER_APPEND_MS = [5, 10, 30, 100] as const;
export const CHAIN_POLL_MS = 250;
export const CHAIN_PACE_MS = 50;

/**
 * What a pass is told: `probe` when the previous pass linked nothing (idle polls, the retries
 * after a local append, the first pass), so a cheap look at the outbox can spare it its
 * transaction; after a pass that linked entries more are likely waiting, and the look would
 * only add a statement.
 */
export interface PassHint {
  probe: boolean;
}

export interface ChainLoop {
  /** A local append happened (its transaction may not have committed yet). */
  appended(): void;
  start(options: { onError: (err: unknown) => void; pollMs?: number; paceMs?: number }): void;
  stop(): Promise<void>;
}

export function createChainLoop(options: { pass: (hint: PassHint) => Promise<number | 'busy'>; batch: number }): ChainLoop {
  let running = false;
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let pollMs = CHAIN_POLL_MS;
  let paceMs = CHAIN_PACE_MS;
  /** Whether the last pass linked entries (then the next skips the probe). */
  let linkedLast = false;
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
    const startedAt = Date.now();
    current = options
      .pass({ probe: !linkedLast })
      .then(
        (n) => {
          linkedLast = typeof n === 'number' && n > 0;
          if (n === options.batch) return schedule(0);
          if (n === 'busy') return schedule(AFTER_APPEND_MS[0]!);
          if (n > 0) {
            step = 0;
            return schedule(Math.max(AFTER_APPEND_MS[0]!, startedAt + paceMs - Date.now()));
          }
          if (appendedDuringPass) step = 0;
          else if (step >= 0) step += 1;
          if (step >= 0 && step < AFTER_APPEND_MS.length) return schedule(AFTER_APPEND_MS[step]!);
          step = -1;
          schedule(pollMs);
        },
        (err: unknown) => {
          linkedLast = false;
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
      paceMs = o.paceMs ?? CHAIN_PACE_MS;
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
