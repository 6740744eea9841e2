import { readdirSync, readFileSync } from 'node:fs';

// CPU accounting for the benches, from Linux /proc (undefined elsewhere).

/** CPU time (user + system, ms) process `pid` has used so far. */
export function cpuMsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) used so far by every process named `postgres` on this machine (the local
 * server). Backends that exit between two readings are not counted: compare runs, not sums.
 */
export function postgresCpuMs() {
  try {
    let ticks = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * 10;
  } catch {
    return undefined;
  }
}

/**
 * Time (µs) some task on this machine has waited for a CPU (Linux PSI, /proc/pressure/cpu), and
 * time (ms) the main thread of process `pid` has spent runnable but not running: on shared cores
 * the tail latency is mostly this, so each run reports both beside its percentiles.
 */
export function cpuPressureUs() {
  try {
    return Number(/^some .* total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))[1]);
  } catch {
    return undefined;
  }
}
export function runQueueMsOf(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return undefined;
  }
}
