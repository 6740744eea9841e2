/**
 * The one duration grammar of Quench's definitions (playbooks and SLO files alike): one or more
 * `<amount><unit>` parts, largest unit first, each unit at most once (`1h30m`, `1w`, `1.5h`,
 * `250ms`). Amounts may be decimal; the total must be a whole number of milliseconds above
 * zero. Units: `w` (7 days), `d`, `h`, `m` (always minutes), `s`, `ms`. SLO windows also accept
 * the OpenSLO calendar shorthands `M`, `Q` and `Y`/`y` (taken as 30, 90 and 365 days in a rolling
 * window, as Sloth and Pyrra do); playbooks do not (a step or SLA is never months long).
 */
const UNIT_MS = {
  Y: 365 * 86_400_000,
  y: 365 * 86_400_000,
  Q: 90 * 86_400_000,
  M: 30 * 86_400_000,
  w: 7 * 86_400_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
} as const;
type Unit = keyof typeof UNIT_MS;
const ORDER: Unit[] = ['Y', 'y', 'Q', 'M', 'w', 'd', 'h', 'm', 's', 'ms'];
const CALENDAR = new Set<Unit>(['Y', 'y', 'Q', 'M']);

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

export function durationHint(calendar = false): string {
  return `expected a duration such as 30s, 5m, 1h30m, 1.5h or 1w (units ${calendar ? 'M, Q, Y, ' : ''}w, d, h, m, s, ms, largest first)`;
}

/** Parses a duration; never throws. `calendar` admits M, Q and Y (SLO windows). */
export function parseDurationText(text: unknown, options: { calendar?: boolean } = {}): DurationResult {
  const hint = durationHint(options.calendar);
  if (typeof text !== 'string' || text.trim() === '') return { ok: false, message: `empty duration; ${hint}` };
  const source = text.trim();
  const parts = source.match(/\d+(?:\.\d+)?(?:ms|[YyQMwdhms])|./g) ?? [];
  let total = 0;
  let last = -1;
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)(ms|[YyQMwdhms])$/.exec(part);
    const unit = m?.[2] as Unit | undefined;
    if (!m || !unit || (CALENDAR.has(unit) && !options.calendar)) return { ok: false, message: `invalid duration '${source}'; ${hint}` };
    const index = unit === 'y' ? ORDER.indexOf('Y') : ORDER.indexOf(unit);
    if (index <= last) return { ok: false, message: `invalid duration '${source}': unit '${unit}' out of order or repeated; ${hint}` };
    last = index;
    total += Number(m[1]) * UNIT_MS[unit];
  }
  if (!(total > 0)) return { ok: false, message: `duration '${source}' must be greater than zero` };
  if (!Number.isInteger(total)) return { ok: false, message: `duration '${source}' is not a whole number of milliseconds` };
  return { ok: true, ms: total };
}

/** For editors (JSON Schema `pattern`): the parser above is the authority. */
export const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?(ms|[wdhms]))+\\s*$';
