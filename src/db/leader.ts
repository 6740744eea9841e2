import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Logger } from '../telemetry/logger.js';

/**
 * One leader among the replicas sharing a database: the SLO evaluator (and the deploy gate's
 * policy) run only there, so N replicas do not mean N× the Prometheus load or duplicated audit
 * entries. Every replica still answers reads from stored state.
 *
 * PostgreSQL: a session advisory lock held on one dedicated connection. It is a lease: the
 * connection carries `idle_session_timeout` = the lease, and the holder runs a statement every
 * third of it, so a dead holder's lock (closed socket) or a hung one's (idle too long) is freed
 * by the server, and a follower, trying every third of the lease, takes over within one lease.
 * A holder checks that its connection is still the one that took the lock (postgres.js
 * reconnects silently, and a new connection holds nothing).
 * PGlite: one process owns the data directory (data-dir lock), so that process leads.
 */
export interface LeaderPort {
  /** Whether this replica leads now. */
  isLeader(): boolean;
  /** Called on every change, after `isLeader()` reflects it. */
  onChange(listener: (leader: boolean) => void): void;
  /** This replica's identity in logs and audit entries. */
  readonly id: string;
}

/** Arbitrary constant, next to the migration (…312) and audit (…313) keys. */
const LEADER_LOCK_KEY = '7262617314';

export const alwaysLeader = (id = 'embedded'): LeaderPort => ({ isLeader: () => true, onChange: () => {}, id });

export interface LeaderElection extends LeaderPort {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function postgresLeaderElection(options: { url: string; leaseMs: number; logger: Logger; id?: string }): LeaderElection {
  const id = options.id ?? `${process.pid}-${randomBytes(3).toString('hex')}`;
  const client = postgres(options.url, {
    max: 1,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 0,
    // The server ends a session idle for a lease: a hung holder loses the lock.
    connection: { idle_session_timeout: options.leaseMs, application_name: `quench-leader-${id}` },
  });
  const listeners: Array<(leader: boolean) => void> = [];
  let leader = false;
  let lockPid: number | undefined;
  // When the lock was last seen held. A process that was paused (SIGSTOP, a long GC, a frozen
  // VM) may have lost its session meanwhile: it stops leading on its own clock until a tick
  // confirms the lock again, so it never evaluates in the moment before it learns it lost.
  let confirmedAt = 0;
  const validForMs = Math.floor((options.leaseMs * 2) / 3);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let ticking: Promise<void> | undefined;

  const set = (next: boolean) => {
    if (next === leader) return;
    leader = next;
    options.logger.info({ replica: id, leader }, leader ? 'this replica leads (SLO evaluation, deploy-gate policy)' : 'this replica follows');
    for (const l of listeners) l(leader);
  };

  const tick = async () => {
    try {
      if (leader) {
        const [row] = await client<{ pid: number }[]>`select pg_backend_pid() as pid`;
        if (row?.pid !== lockPid) {
          options.logger.warn({ replica: id }, 'leader connection was replaced: the lock is gone');
          lockPid = undefined;
          set(false);
        } else confirmedAt = Date.now();
      }
      if (!leader) {
        const [row] = await client<{ ok: boolean; pid: number }[]>`
          select pg_try_advisory_lock(${LEADER_LOCK_KEY}::bigint) as ok, pg_backend_pid() as pid`;
        if (row?.ok) {
          lockPid = row.pid;
          confirmedAt = Date.now();
          set(true);
        }
      }
    } catch (err) {
      // The connection is gone, and with it the lock: step down until it is back.
      if (leader) options.logger.warn({ replica: id, err: (err as Error).message }, 'leader connection failed: stepping down');
      lockPid = undefined;
      set(false);
    }
  };
  const run = () => {
    if (ticking || stopped) return;
    ticking = tick().finally(() => {
      ticking = undefined;
    });
  };

  return {
    id,
    isLeader: () => leader && Date.now() - confirmedAt < validForMs,
    onChange: (l) => {
      listeners.push(l);
    },
    async start() {
      await tick();
      timer = setInterval(run, Math.max(50, Math.floor(options.leaseMs / 3)));
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await ticking;
      set(false);
      await client.end({ timeout: 5 }).catch(() => {});
    },
  };
}

/**
 * The service's election: PostgreSQL elects; PGlite's single process leads. Installed first, so
 * `ports.leader` answers before the SLO evaluator's first cycle.
 */
export function leaderComponent(options: { url: string | undefined; leaseMs: number; logger: Logger }): { port: LeaderPort; start(): Promise<void>; stop(): Promise<void> } {
  if (!options.url) return { port: alwaysLeader(), start: async () => {}, stop: async () => {} };
  const election = postgresLeaderElection({ url: options.url, leaseMs: options.leaseMs, logger: options.logger });
  return { port: election, start: () => election.start(), stop: () => election.stop() };
}
