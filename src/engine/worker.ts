import { randomUUID } from 'node:crypto';
import { and, eq, like } from 'drizzle-orm';
import { executeClaimed } from './executor.js';
import type { ReservedSlot } from './handoff.js';
import { type Runtime, runningOf } from './runtime.js';
import { engineSteps } from './schema.js';
import { type ClaimedStep, claimDueSteps, releaseClaims } from './sql/claim.js';
import { WAKE_CHANNEL } from './wake.js';

/**
 * A worker: claims due steps and runs them, up to `concurrency` at once. It wakes in process
 * when this engine commits a change that made a step due (wake.ts), on NOTIFY `quench_engine`
 * from other replicas (sent after commit, at most every 50 ms), and on a slow poll, the
 * backstop for timers coming due, lost notifications and expired leases of dead workers in
 * other processes (pg-boss does the same). A slot that records a step's result takes the next
 * step of the same run that result made ready in the same commit (`ClaimedStep.chain`) and
 * runs it at once.
 */
export interface Worker {
  readonly id: string;
  start(): Promise<void>;
  /** Stops claiming, waits for in-flight steps (aborting them after `graceMs`), and hands back leases. */
  stop(graceMs?: number): Promise<void>;
  /** Claims and runs due steps until none is due (or `maxSteps` ran): for tests and the bench, with a manual clock. */
  drain(options?: { maxSteps?: number }): Promise<number>;
}

export { WAKE_CHANNEL } from './wake.js';

export function createWorker(rt: Runtime, id = `w-${randomUUID().slice(0, 8)}`): Worker {
  const shutdown = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let active = false;
  let unlisten: (() => Promise<void>) | undefined;
  let unwake: (() => void) | undefined;
  let unoffer: (() => void) | undefined;
  let poll: NodeJS.Timeout | undefined;
  let wakeRequested = false;
  let looping = false;
  /** The last claim filled every slot it asked for: more may be due. */
  let backlog = false;

  const running = runningOf(rt);
  const databaseClock = rt.options.leaseClock === 'database';
  const claim = (limit: number) =>
    claimDueSteps(rt.db, id, rt.clock.now(), rt.options.leaseMs, limit, {
      databaseClock,
      exclude: running,
    });
  /**
   * Runs a claimed step, then the steps of the same run its results claimed for this slot, as
   * long as `mayChain()` says so (a stopping worker runs no more; a drain never chains). A chained step whose predecessor's execution failed after recording still runs: it
   * is claimed by this slot, and leaving it would cost a lease expiry.
   */
  const whileActive = () => active;
  const noChaining = () => false;
  const execute = async (first: ClaimedStep, mayChain: () => boolean = whileActive) => {
    for (let claimed: ClaimedStep | undefined = first; claimed; ) {
      const current: ClaimedStep = claimed;
      if (mayChain()) current.chain = {};
      running.add(current.id);
      try {
        await executeClaimed(rt, current, shutdown.signal);
      } catch (err) {
        if (!current.chain?.next) throw err;
        rt.logger.error({ err, step: current.id }, 'step execution crashed after recording; running the step it claimed next');
      } finally {
        running.delete(current.id);
      }
      claimed = current.chain?.next;
      if (claimed) rt.metrics.claims.inc({ via: 'chain' });
    }
  };

  /** Runs a claimed step (or, once it is handed over, a reserved slot's) as one of the in-flight slots. */
  const runOne = (claimed: ClaimedStep | Promise<ClaimedStep | undefined>) => {
    const p = Promise.resolve(claimed)
      .then((step) =>
        step &&
        execute(step).catch((err) =>
          rt.logger.error({ err, step: step.id }, 'step execution crashed; its lease will expire and another worker takes it over'),
        ),
      )
      .finally(() => {
        inFlight.delete(p);
        if (active && backlog) wake();
      });
    inFlight.add(p);
  };

  /**
   * A free slot held for the first step of a run this process is starting (handoff.ts). It
   * counts as in flight from now on, so claims leave room for it and a stop waits for it.
   */
  const reserve = (): ReservedSlot | undefined => {
    if (!active || inFlight.size >= rt.options.concurrency) return undefined;
    let settle!: (step: ClaimedStep | undefined) => void;
    runOne(new Promise<ClaimedStep | undefined>((resolve) => (settle = resolve)));
    return {
      worker: id,
      take(step) {
        rt.metrics.claims.inc({ via: 'start' });
        settle(step);
      },
      release: () => settle(undefined),
    };
  };

  /** Claims while there is capacity and work; one loop at a time, re-run if woken meanwhile. */
  const loop = async () => {
    if (looping) {
      wakeRequested = true;
      return;
    }
    looping = true;
    try {
      do {
        wakeRequested = false;
        // Woken: something may be due, even if no slot is free to claim it now.
        backlog = true;
        while (active && inFlight.size < rt.options.concurrency) {
          const asked = rt.options.concurrency - inFlight.size;
          const claimed = await claim(asked);
          // Fewer than asked for: nothing else is due. Until a wake-up says otherwise, a freed
          // slot does not claim again (and stays free for a start's handoff).
          backlog = claimed.length === asked;
          if (claimed.length > 0) rt.metrics.claims.inc({ via: 'poll' }, claimed.length);
          // Starts may have taken slots while the claim was out: what does not fit is given
          // back, due now, for any worker with room (never more than `concurrency` at once here).
          const room = Math.max(0, rt.options.concurrency - inFlight.size);
          for (const c of claimed.slice(0, room)) runOne(c);
          if (claimed.length > room) {
            await releaseClaims(rt.db, claimed.slice(room), rt.clock.now(), databaseClock);
            rt.wake.wake();
            break;
          }
          if (!backlog) break;
        }
      } while (wakeRequested && active);
    } catch (err) {
      rt.logger.warn({ err }, 'claiming steps failed; retrying on the next poll');
    } finally {
      looping = false;
    }
  };
  const wake = () => void loop();

  return {
    id,
    async start() {
      active = true;
      unwake = rt.wake.onWake(wake);
      unoffer = rt.handoff.offer(reserve);
      unlisten = await rt.db.listen(WAKE_CHANNEL, wake);
      poll = setInterval(wake, rt.options.pollMs);
      wake();
    },
    async stop(graceMs = 5_000) {
      active = false;
      if (poll) clearInterval(poll);
      unwake?.();
      unoffer?.();
      await unlisten?.().catch(() => {});
      const settle = Promise.allSettled([...inFlight]);
      const timer = setTimeout(() => shutdown.abort(), graceMs);
      await settle;
      clearTimeout(timer);
      shutdown.abort();
      // Aborted attempts stay `running`: make them due now, so another worker resumes them
      // (same attempt, same idempotency key) without waiting for the lease to expire.
      await rt.db.orm
        .update(engineSteps)
        .set({ wakeAt: rt.clock.now() })
        .where(and(like(engineSteps.leaseOwner, `${id}/%`), eq(engineSteps.status, 'running')))
        .returning({ id: engineSteps.id })
        // Another worker of this process (or another replica) takes them now, not at its poll.
        .then((handedBack) => handedBack.length > 0 && rt.wake.wake())
        .catch(() => {});
    },
    async drain(options = {}) {
      const max = options.maxSteps ?? Number.POSITIVE_INFINITY;
      let total = 0;
      for (;;) {
        if (total >= max) return total;
        const claimed = await claim(Math.min(rt.options.concurrency, max - total));
        if (claimed.length === 0) return total;
        rt.metrics.claims.inc({ via: 'poll' }, claimed.length);
        total += claimed.length;
        // No chaining here: a drain runs in rounds (claim, run all, claim again), and a slot
        // kept on its run's next step would hold the round while that step waits on a sibling
        // (a parallel branch) the round has not claimed.
        await Promise.all(claimed.map((c) => execute(c, noChaining)));
      }
    },
  };
}
