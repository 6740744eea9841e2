import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { tracedFetch } from '../telemetry/otel.js';

/**
 * PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/overview/) over
 * plain `fetch`: one POST per event to `/v2/enqueue`. The dedup key is the run's correlation id,
 * so a retried or repeated event lands on the same PagerDuty alert and changes nothing.
 */
export type EventAction = 'trigger' | 'acknowledge' | 'resolve';
export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

export interface PagerDutyEvent {
  action: EventAction;
  dedupKey: string;
  /** Trigger only. */
  summary?: string;
  source?: string;
  severity?: PagerDutySeverity;
  component?: string;
  group?: string;
  customDetails?: Record<string, unknown>;
  links?: Array<{ href: string; text: string }>;
}

const enqueueAnswer = z.object({ status: z.string(), message: z.string(), dedup_key: z.string().optional() });
const enqueueError = z.object({ status: z.string().optional(), message: z.string().optional(), errors: z.array(z.string()).optional() });

export const PAGERDUTY_EVENTS_DEFAULT_URL = 'https://events.pagerduty.com';

export class PagerDutyEvents {
  readonly #url: string;
  readonly #routingKey: string;
  readonly #fetch: typeof fetch;

  constructor(options: { routingKey: string; baseUrl?: string | undefined; fetch?: typeof fetch }) {
    this.#url = `${options.baseUrl ?? PAGERDUTY_EVENTS_DEFAULT_URL}/v2/enqueue`;
    this.#routingKey = options.routingKey;
    // A client span per call when tracing is on (src/telemetry/otel.ts).
    this.#fetch = tracedFetch(options.fetch ?? fetch);
  }

  /**
   * A change event (`POST /v2/change/enqueue`): shown on the service's timeline beside its
   * incidents, never pages. The deploy gate sends its freezes and lifts this way.
   */
  async sendChange(change: { summary: string; source?: string; timestamp: Date; customDetails?: Record<string, unknown> }): Promise<void> {
    const url = this.#url.replace(/\/v2\/enqueue$/, '/v2/change/enqueue');
    const body = {
      routing_key: this.#routingKey,
      payload: {
        summary: change.summary.slice(0, 1024),
        source: change.source ?? 'quench',
        timestamp: change.timestamp.toISOString(),
        custom_details: change.customDetails ?? {},
      },
    };
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new QuenchError('internal', `PagerDuty change events unreachable at ${url}: ${(err as Error).message}`, { cause: err });
    }
    if (response.status !== 202) {
      const text = await response.text();
      throw new QuenchError('internal', `PagerDuty rejected the change event (${response.status}): ${text.slice(0, 200)}`);
    }
    await response.body?.cancel();
  }

  async send(event: PagerDutyEvent): Promise<{ dedupKey: string; message: string }> {
    const body: Record<string, unknown> = { routing_key: this.#routingKey, event_action: event.action, dedup_key: event.dedupKey };
    if (event.action === 'trigger') {
      body.payload = {
        summary: (event.summary ?? 'Quench incident').slice(0, 1024),
        source: event.source ?? 'quench',
        severity: event.severity ?? 'error',
        component: event.component,
        group: event.group,
        custom_details: event.customDetails,
      };
      if (event.links?.length) body.links = event.links;
    }
    let response: Response;
    try {
      response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new QuenchError('internal', `PagerDuty Events API unreachable at ${this.#url}: ${(err as Error).message}`, {
        cause: err,
        details: { retryable: true },
      });
    }
    const text = await response.text();
    const json = safeJson(text);
    if (response.status === 202) {
      const answer = enqueueAnswer.safeParse(json);
      if (!answer.success)
        throw new QuenchError('internal', `PagerDuty Events API answered 202 with an unexpected body: ${text.slice(0, 200)}`);
      return { dedupKey: answer.data.dedup_key ?? event.dedupKey, message: answer.data.message };
    }
    const detail = enqueueError.safeParse(json);
    const reasons = detail.success ? [detail.data.message, ...(detail.data.errors ?? [])].filter(Boolean).join('; ') : text.slice(0, 200);
    if (response.status === 429) {
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new QuenchError('rate_limited', `PagerDuty Events API rate limit reached; retry later (${reasons})`, {
        details: { retryable: true, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 30 },
      });
    }
    if (response.status >= 500) {
      throw new QuenchError('internal', `PagerDuty Events API failed with ${response.status}: ${reasons}`, {
        details: { retryable: true },
      });
    }
    // 400: the event itself is wrong (often the routing key); repeating it cannot help.
    throw new QuenchError(
      'validation_failed',
      `PagerDuty rejected the ${event.action} event (${response.status}): ${reasons}. Check PAGERDUTY_ROUTING_KEY (an Events API v2 integration key, 32 characters).`,
      {
        details: { retryable: false },
      },
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
