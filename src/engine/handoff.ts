import type { ClaimedStep } from './sql/claim.js';

/**
 * Hands the first step of a run this process starts to one of its own workers, claimed in the
 * starting commit (sql/start-run.ts), the way a recorded result hands its run's next step to
 * the slot that recorded it (`ClaimedStep.chain`): no wake-up, no claim statement and no read
 * of the run before the step runs. A worker offers its free slots while it is started; a
 * process with no started worker (the CLI, a replica that only serves) gets none, and the
 * step is left `ready` for whichever worker claims it.
 */
export interface ReservedSlot {
  /** The worker id the claim token is minted under. */
  worker: string;
  /** The commit claimed `step` for this slot: the worker runs it. */
  take(step: ClaimedStep): void;
  /** Nothing was claimed for it (the start failed, or adopted an existing run): the slot is free again. */
  release(): void;
}

export interface SlotHandoff {
  /** A free slot of some started worker of this process, held until `take` or `release`. */
  reserve(): ReservedSlot | undefined;
  /** A started worker offers its slots; returns the withdrawal. */
  offer(reserve: () => ReservedSlot | undefined): () => void;
}

export function createSlotHandoff(): SlotHandoff {
  const sources = new Set<() => ReservedSlot | undefined>();
  return {
    reserve() {
      for (const reserve of sources) {
        const slot = reserve();
        if (slot) return slot;
      }
      return undefined;
    },
    offer(reserve) {
      sources.add(reserve);
      return () => sources.delete(reserve);
    },
  };
}
