import { WardenError } from "../errors.js";

/**
 * Bounded concurrency: at most `maxInFlight` calls run, at most `maxQueue`
 * wait; past that a call is refused with E_BUSY at once, so a flood of calls
 * cannot grow memory without bound or starve everybody behind one client.
 */
export class Admission {
  private running = 0;
  private readonly waiting: Array<{ resolve: () => void; reject: (e: unknown) => void; signal: AbortSignal; onAbort: () => void }> = [];

  constructor(
    private readonly maxInFlight: number,
    private readonly maxQueue: number,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  /** Resolves with a release function once the call may run. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.running < this.maxInFlight) {
      this.running++;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxQueue)
      throw new WardenError("E_BUSY", `busy: ${this.running} calls running and ${this.waiting.length} queued (limits concurrency.maxInFlight=${this.maxInFlight}, maxQueue=${this.maxQueue}); retry later`);
    await new Promise<void>((resolve, reject) => {
      const entry = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new WardenError("E_CANCELLED", "the call was cancelled while it waited for a free slot"));
        },
      };
      signal.addEventListener("abort", entry.onAbort, { once: true });
      this.waiting.push(entry);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) {
        next.signal.removeEventListener("abort", next.onAbort);
        next.resolve(); // the slot passes straight to the next waiter
      } else {
        this.running--;
      }
    };
  }
}
