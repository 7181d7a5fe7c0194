import type { WardenError } from "../errors.js";

interface Waiter<T> {
  item: T;
  resolve: () => void;
  reject: (err: WardenError) => void;
}

/**
 * Group commit: one commit (write + fdatasync) is in flight at a time; every
 * item that arrives meanwhile joins the next commit. One fdatasync then pays
 * for a whole batch, which is what lets the log keep up with thousands of
 * calls per second while still resolving each append only once it is on disk.
 *
 * There is no timer: the first commit starts on the next microtask, so a lone
 * item pays exactly one commit and no added latency, while items handed in
 * during the same synchronous turn still share it.
 *
 * After a failed commit the queue stays failed: the items of that batch and
 * every later one reject, because a log with a hole must not go on looking
 * healthy (the server then refuses calls instead of running unaudited).
 */
export class GroupCommitQueue<T> {
  #pending: Waiter<T>[] = [];
  #running = false;
  #failure: WardenError | null = null;
  #idleWaiters: Array<() => void> = [];

  constructor(
    private readonly commit: (items: T[]) => Promise<void>,
    private readonly describeFailure: (err: unknown) => WardenError,
  ) {}

  get failure(): WardenError | null {
    return this.#failure;
  }

  enqueue(item: T): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  /** Resolves once nothing is pending or in flight. */
  whenIdle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.commit(batch.map((w) => w.item));
        for (const w of batch) w.resolve();
      } catch (err) {
        this.#failure = this.describeFailure(err);
        const failed = [...batch, ...this.#pending];
        this.#pending = [];
        for (const w of failed) w.reject(this.#failure);
      }
    }
    this.#running = false;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
