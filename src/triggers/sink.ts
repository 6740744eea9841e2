import type { TriggerEvent } from './event.js';

/**
 * Where trigger events go. The SLO evaluator and the webhook inbox emit into it; the router
 * (ingest/) implements it by matching playbooks and starting or signalling runs. Emitting must
 * be durable once it resolves.
 */
export interface TriggerSink {
  emit(event: TriggerEvent): Promise<void>;
}

/** Collects events in memory: for tests and for tools that only want to see what would fire. */
export class RecordingTriggerSink implements TriggerSink {
  readonly events: TriggerEvent[] = [];
  async emit(event: TriggerEvent): Promise<void> {
    this.events.push(event);
  }
}
