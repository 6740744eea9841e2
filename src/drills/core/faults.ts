/**
 * Fault injection for drills (`fail=STEP`, `fail=STEP:once`, `--fail STEP:always`). Pure: the
 * engine asks, per attempt of a step, whether the drill makes it fail.
 *
 * - `STEP` or `STEP:always`: every attempt of the step fails, so its retries run out and its
 *   fallback, `onFailure` (escalation, compensation) are exercised.
 * - `STEP:once`: the first attempt fails and the retry succeeds, which exercises the retry
 *   policy (a step whose `retryOn` does not cover the failure is not retried: see below).
 *
 * The injected failure is transient (retryable) and carries a code the step retries on when
 * its `retryOn` names a concrete code (`timeout`, `exit_1`, `http_503`), so `once` exercises
 * the retry the playbook actually has; otherwise the code is `drill_failure`. Either way it is
 * marked `details.injected`, which is how the scorecard recognises it.
 */
export type FaultMode = 'always' | 'once';
export interface Fault {
  step: string;
  mode: FaultMode;
}

export type ParsedFaults = { ok: true; faults: Fault[] } | { ok: false; problem: string };

export function parseFaults(specs: readonly string[]): ParsedFaults {
  const faults: Fault[] = [];
  for (const raw of specs) {
    const spec = raw.trim();
    const colon = spec.lastIndexOf(':');
    const step = colon >= 0 ? spec.slice(0, colon) : spec;
    const mode = colon >= 0 ? spec.slice(colon + 1) : 'always';
    if (!step) return { ok: false, problem: `fail='${raw}': name a step (fail=STEP, fail=STEP:once or fail=STEP:always)` };
    if (mode !== 'always' && mode !== 'once') return { ok: false, problem: `fail='${raw}': the mode after ':' must be once or always` };
    if (faults.some((f) => f.step === step)) return { ok: false, problem: `fail= names step '${step}' twice` };
    faults.push({ step, mode });
  }
  return { ok: true, faults };
}

/** Whether attempt `attempt` (1-based) of step `stepKey` (a playbook step, not a fallback or compensation) fails. */
export function faultFor(specs: readonly string[] | undefined, stepKey: string, role: string, attempt: number): Fault | undefined {
  if (!specs?.length || role !== 'step') return undefined;
  const parsed = parseFaults(specs);
  if (!parsed.ok) return undefined;
  const fault = parsed.faults.find((f) => f.step === stepKey);
  if (!fault) return undefined;
  return fault.mode === 'always' || attempt <= 1 ? fault : undefined;
}

/** The failure code to inject: the first concrete code the step retries on, else `drill_failure`. */
export function injectedCode(retryOn: readonly string[] | undefined): string {
  for (const pattern of retryOn ?? []) {
    const concrete = pattern.replace(/xx$/, '00');
    if (/^[A-Za-z0-9_]+$/.test(concrete)) return concrete;
  }
  return 'drill_failure';
}
