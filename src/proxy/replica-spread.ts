import { AVOID_HEADER } from '../cluster/spread';

/** After this many refusals in a row a slot dials without the hint (a balancer with affinity would keep refusing). */
const MAX_REFUSALS = 2;

/**
 * The proxy's half of spreading its connections across gateway replicas (docs/cluster.md "Proxies
 * across replicas"): remembers which replica each slot's live connection is on, and asks, when a
 * slot dials, to avoid the replicas the other slots are on. Without a cluster no replica is ever
 * named and no header is sent.
 */
export class ReplicaSpread {
  readonly #bySlot = new Map<number, string>();
  readonly #refusals = new Map<number, number>();

  /** Extra dial headers for `slot`: the replicas of the other slots, unless refused too often. */
  headers(slot: number): Record<string, string> | undefined {
    if ((this.#refusals.get(slot) ?? 0) >= MAX_REFUSALS) return undefined;
    const others = [...this.#bySlot].filter(([s]) => s !== slot).map(([, r]) => r);
    return others.length > 0 ? { [AVOID_HEADER]: [...new Set(others)].join(',') } : undefined;
  }

  /** `slot` is connected to `replica` (null: no cluster); returns the teardown for when it closes. */
  connected(slot: number, replica: string | null): () => void {
    this.#refusals.delete(slot);
    if (replica === null) return () => undefined;
    this.#bySlot.set(slot, replica);
    return () => {
      if (this.#bySlot.get(slot) === replica) this.#bySlot.delete(slot);
    };
  }

  /** A dial of `slot` failed; a 503 while the hint was sent counts as a refusal. */
  failed(slot: number, err: unknown): void {
    if ((err as { status?: number }).status === 503) this.#refusals.set(slot, (this.#refusals.get(slot) ?? 0) + 1);
  }
}
