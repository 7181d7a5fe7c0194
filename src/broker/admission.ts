import { WardenError } from "../errors.js";

interface Waiter {
  actor: string;
  seq: number;
  grant: () => void;
}

/**
 * Bounded concurrency shared fairly between identities (#18.5). One token's
 * batch of slow calls used to fill every running slot and the whole queue, so
 * every other token got E_BUSY. Now:
 *
 * - at most `maxInFlight` calls run and at most `maxQueue` wait (E_BUSY past that, at once);
 * - one identity runs at most `maxInFlight` minus a reserve (a quarter, at least one
 *   slot when there are two or more), so another identity always finds a slot;
 * - one identity holds at most half of the queue;
 * - a freed slot goes to the waiting identity with the fewest running calls
 *   (oldest waiter on a tie), not to whoever queued first.
 */
export class Admission {
  private running = 0;
  private readonly runningBy = new Map<string, number>();
  private readonly waiting: Waiter[] = [];
  private seq = 0;
  readonly perActorInFlight: number;
  readonly perActorQueue: number;

  constructor(
    private readonly maxInFlight: number,
    private readonly maxQueue: number,
  ) {
    this.perActorInFlight = maxInFlight >= 2 ? maxInFlight - Math.max(1, Math.floor(maxInFlight / 4)) : 1;
    this.perActorQueue = maxQueue === 0 ? 0 : Math.max(1, Math.floor(maxQueue / 2));
  }

  get inFlight(): number {
    return this.running;
  }

  /** Resolves with a release function once the call may run. */
  async acquire(actor: string, signal: AbortSignal): Promise<() => void> {
    if (this.running < this.maxInFlight && this.runningOf(actor) < this.perActorInFlight) {
      this.start(actor);
      return this.releaser(actor);
    }
    const queuedByActor = this.waiting.filter((w) => w.actor === actor).length;
    if (this.waiting.length >= this.maxQueue)
      throw new WardenError("E_BUSY", `busy: ${this.running} calls running and ${this.waiting.length} queued (limits concurrency.maxInFlight=${this.maxInFlight}, maxQueue=${this.maxQueue}); retry later`);
    if (queuedByActor >= this.perActorQueue)
      throw new WardenError("E_BUSY", `busy: ${actor} already has ${this.runningOf(actor)} calls running and ${queuedByActor} queued (at most ${this.perActorInFlight} and ${this.perActorQueue} per identity); retry later`);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        actor,
        seq: this.seq++,
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new WardenError("E_CANCELLED", "the call was cancelled while it waited for a free slot"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
    return this.releaser(actor);
  }

  private runningOf(actor: string): number {
    return this.runningBy.get(actor) ?? 0;
  }

  private start(actor: string): void {
    this.running++;
    this.runningBy.set(actor, this.runningOf(actor) + 1);
  }

  private releaser(actor: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const left = this.runningOf(actor) - 1;
      if (left > 0) this.runningBy.set(actor, left);
      else this.runningBy.delete(actor);
      this.dispatch();
    };
  }

  /** Hands free slots to waiters: fewest running calls first, then the oldest waiter. */
  private dispatch(): void {
    while (this.running < this.maxInFlight) {
      let best: Waiter | undefined;
      for (const w of this.waiting) {
        if (this.runningOf(w.actor) >= this.perActorInFlight) continue;
        if (!best || this.runningOf(w.actor) < this.runningOf(best.actor) || (this.runningOf(w.actor) === this.runningOf(best.actor) && w.seq < best.seq)) best = w;
      }
      if (!best) return;
      this.waiting.splice(this.waiting.indexOf(best), 1);
      this.start(best.actor);
      best.grant();
    }
  }
}
