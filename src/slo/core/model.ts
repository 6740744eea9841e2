/**
 * The SLO model every format is imported into: one `Slo` per error budget (an OpenSLO SLO with
 * several objectives becomes several). The evaluator, the rule generator and the status API
 * only ever see this shape.
 */
export type Severity = 'page' | 'ticket';
export const severities: readonly Severity[] = ['page', 'ticket'];

export type SloWindow =
  | { kind: 'rolling'; ms: number }
  | {
      kind: 'calendar';
      unit: 'd' | 'w' | 'M' | 'Q' | 'Y';
      count: number;
      timeZone: string;
      /** Wall-clock time in `timeZone` that windows are aligned to (OpenSLO `startTime`). */
      anchor?: string;
    };

export type Budgeting =
  | { method: 'occurrences' }
  /**
   * A slice is good when its own ratio (or threshold check) meets `sliceTarget`. `rangeMs`: the
   * SLI's range inside each slice (`rate(…[range])`), the slice length unless two scrape
   * intervals are longer (a rate needs two samples).
   */
  | { method: 'timeslices'; sliceMs: number; sliceTarget: number; rangeMs?: number }
  /** The SLI is the average of the slices' ratios. */
  | { method: 'ratioTimeslices'; sliceMs: number; rangeMs?: number };

export type ComparisonOp = 'lt' | 'lte' | 'gt' | 'gte';

export interface SyntheticPhase {
  /** Offset from the script's anchor at which this error ratio starts. */
  atMs: number;
  errorRatio: number;
}

export interface SyntheticScript {
  requestsPerSecond: number;
  phases: SyntheticPhase[];
  /** The script repeats with this period (aligned to the anchor); absent: the last phase holds. */
  repeatMs?: number;
  /** `epoch`: offsets from the Unix epoch; `start`: from when the evaluator started. */
  anchor: 'epoch' | 'start';
}

/** PromQL texts are templates: `{{window}}` becomes the range (`5m`, `30d`). */
export type Sli =
  | {
      kind: 'events';
      source: 'prometheus';
      errorQuery?: string;
      goodQuery?: string;
      totalQuery: string;
      /** OpenSLO `counter: false`: queries without `{{window}}` are gauges, averaged, not increased. */
      counter?: boolean;
    }
  | { kind: 'raw'; source: 'prometheus'; errorRatioQuery: string }
  | { kind: 'threshold'; source: 'prometheus'; query: string; op: ComparisonOp; value: number }
  | { kind: 'synthetic'; source: 'synthetic'; script: SyntheticScript }
  /** OpenSLO placeholder sources (`type: Any`): valid, but nothing to evaluate. */
  | { kind: 'unevaluable'; source: 'none'; reason: string };

export interface BurnWindow {
  severity: Severity;
  longMs: number;
  shortMs: number;
  /** Burn-rate threshold both windows must exceed. */
  factor: number;
  /** `gt` (default): burn > factor; `gte` (OpenSLO `op: gte`): burn ≥ factor. */
  op?: 'gt' | 'gte';
}

export interface AlertTier {
  severity: Severity;
  enabled: boolean;
  /** How long the condition must hold before firing. */
  forMs: number;
  /** Playbook a firing alert of this tier starts (routing reads it from the trigger event). */
  playbook?: string;
}

export interface Alerting {
  windows: BurnWindow[];
  tiers: Record<Severity, AlertTier>;
  /** Low-traffic guard: fewer requests than this in a window and it cannot fire. */
  minEvents: number;
}

/** Thresholds the deploy gate applies (gate/ owns the behaviour; these are only numbers). */
export interface BudgetPolicy {
  /** Freeze risky deploys below this share of budget remaining. */
  freezeBelow: number;
  /** Freeze every deploy (low risk too) at or below this share; null: never (Google's policy lets fixes through). */
  freezeAllBelow: number | null;
  /** Lift only once the budget is above this share (hysteresis; default freezeBelow + 0.05). */
  recoverAbove: number;
  /** Freeze while a page-severity burn alert fires (default true). */
  freezeOnPage: boolean;
  /** Freeze when the budget would be exhausted within this long at the current burn; null: off. */
  freezeWhenExhaustedWithinMs: number | null;
  /** An automatic freeze lifts on its own this long after it started, recovered or not; null: only on recovery. */
  freezeExpiresAfterMs: number | null;
}

/**
 * How `quench slo rules` names an SLO and its alerts, where the file said (Sloth's spec names
 * the alert and adds labels per tier); absent fields take Quench's defaults.
 */
export interface RuleNaming {
  /** `sloth_slo`: the SLO's name within its service (a Sloth SLO's `name`, without the service). */
  slo?: string;
  /** `sloth_spec` on `sloth_slo_info`: the format the SLO came from (`prometheus/v1`, `sloth.slok.dev/v1`). */
  spec?: string;
  /** One alert name for both tiers (Sloth `alerting.name`, Pyrra `alerting.name`). */
  alertName?: string;
  /** Extra alert labels and annotations per tier; they override Quench's own (`severity` included). */
  alertLabels?: Partial<Record<Severity, Record<string, string>>>;
  alertAnnotations?: Partial<Record<Severity, Record<string, string>>>;
}

/**
 * A named Prometheus-compatible endpoint (OpenSLO `DataSource` with `connectionDetails`) that an
 * SLO reads instead of PROMETHEUS_URL: Prometheus, Thanos Query or Mimir (tenant as a header).
 */
export interface DataSourceRef {
  name: string;
  /** The DataSource's `type` as written (Prometheus, Thanos, Mimir …). */
  type: string;
  /** Base URL of the Prometheus HTTP API (without `/api/v1`). */
  url: string;
  headers?: Record<string, string>;
}

export interface Slo {
  /** Unique across all loaded files: status, metrics and the API key on it. */
  name: string;
  displayName?: string;
  service: string;
  description?: string;
  owner?: { team?: string; slack?: string };
  /** Target ratio in (0, 1), e.g. 0.999. */
  objective: number;
  window: SloWindow;
  budgeting: Budgeting;
  sli: Sli;
  alerting: Alerting;
  policy: BudgetPolicy;
  labels: Record<string, string>;
  origin: { file: string; line: number; col: number; format: 'quench' | 'openslo' | 'sloth' | 'pyrra' };
  rules?: RuleNaming;
  /** Read from this endpoint instead of PROMETHEUS_URL (Prometheus SLIs only). */
  dataSource?: DataSourceRef;
}
