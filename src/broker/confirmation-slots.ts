import { WardenError } from "../errors.js";

/**
 * Calls waiting for a human, bounded in total and per identity (#18.6): one
 * token sending destructive calls it never confirms used to hold every slot
 * for `confirmTimeoutMs`, and every other token got E_BUSY.
 */
export class ConfirmationSlots {
  private total = 0;
  private readonly byActor = new Map<string, number>();

  constructor(private readonly limits: () => { total: number; perActor: number }) {}

  /** Takes a slot or throws E_BUSY; returns the function that gives it back. */
  take(actor: string): () => void {
    const { total, perActor } = this.limits();
    if (this.total >= total) throw new WardenError("E_BUSY", `busy: ${this.total} calls are waiting for a human's confirmation; retry later`);
    const mine = this.byActor.get(actor) ?? 0;
    if (mine >= perActor) throw new WardenError("E_BUSY", `busy: ${actor} already has ${mine} calls waiting for a human's confirmation (at most ${perActor} per identity); answer those first`);
    this.total++;
    this.byActor.set(actor, mine + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.total--;
      const left = (this.byActor.get(actor) ?? 1) - 1;
      if (left > 0) this.byActor.set(actor, left);
      else this.byActor.delete(actor);
    };
  }
}

/** A quarter of the queue bound per identity, at least one. */
export function confirmationLimits(maxQueue: number): { total: number; perActor: number } {
  return { total: maxQueue, perActor: Math.max(1, Math.floor(maxQueue / 4)) };
}
