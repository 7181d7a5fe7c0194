import type { Logger } from "pino";
import type { Alerter } from "../../incident/alerts.js";
import type { Checkpoint } from "./checkpoint.js";
import type { CheckpointSink } from "./sinks.js";

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  /** A sink failing this long is alerted, shown in /healthz and logged as an error. */
  alertAfterMs: number;
  /** Undelivered checkpoints kept per sink; past it the oldest are dropped (a newer one covers more of the chain). */
  maxPending: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 1000, maxMs: 60_000, alertAfterMs: 30_000, maxPending: 1000 };

/**
 * One sink's queue: delivered in order, one at a time, in the background.
 * A failure is retried with exponential backoff, forever (checkpoints resume
 * when the sink comes back); a sink failing for `alertAfterMs` raises one
 * alert per outage (SPEC §14) and is reported by `checkpointHealth()`.
 * Nothing here is awaited by an append: a dead sink never slows a call.
 */
export class SinkQueue {
  #pending: Checkpoint[] = [];
  #running = false;
  #failingSince: number | null = null;
  #lastError: string | null = null;
  #attempts = 0;
  #alerted = false;
  #closed = false;
  #wake: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #idle: Array<() => void> = [];
  delivered = 0;

  constructor(
    readonly sink: CheckpointSink,
    private readonly policy: RetryPolicy,
    private readonly logger: Logger,
    private readonly alerter: Alerter | null,
  ) {}

  push(checkpoint: Checkpoint): void {
    this.#pending.push(checkpoint);
    if (this.#pending.length > this.policy.maxPending) {
      const dropped = this.#pending.shift()!;
      this.logger.error({ event: "audit.checkpoint_dropped", sink: this.sink.name, seq: dropped.seq }, `audit: checkpoint sink ${this.sink.name} is too far behind; dropped the checkpoint of seq ${dropped.seq} (newer ones cover it)`);
    }
    if (!this.#running) void this.#drain();
  }

  get pending(): number {
    return this.#pending.length;
  }

  /** A line for /healthz when this sink has been failing for at least alertAfterMs, else null. */
  problem(now = Date.now()): string | null {
    if (this.#failingSince === null || now - this.#failingSince < this.policy.alertAfterMs) return null;
    const oldest = this.#pending[0]?.seq;
    return `audit checkpoint sink ${this.sink.name} has not delivered since ${new Date(this.#failingSince).toISOString()} (${this.#pending.length} pending${oldest ? ` from seq ${oldest}` : ""}; ${this.#lastError ?? "error"})`;
  }

  /** Resolves when nothing is pending, or after `timeoutMs` (then the rest is reported lost). */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.#pending.length === 0) return true;
    this.#wake?.(); // at shutdown, retry now instead of after the backoff
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.#idle.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return done;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    if (this.#pending.length > 0) {
      this.logger.error(
        { event: "audit.checkpoint_undelivered", sink: this.sink.name, seqs: this.#pending.map((c) => c.seq) },
        `audit: ${this.#pending.length} checkpoint(s) could not be delivered to sink ${this.sink.name} before shutdown`,
      );
    }
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#pending.length > 0 && !this.#closed) {
      const checkpoint = this.#pending[0]!;
      try {
        await this.sink.deliver(checkpoint);
        this.#pending.shift();
        this.delivered++;
        this.#recovered();
      } catch (err) {
        this.#failed(checkpoint, err);
        await this.#backoff();
      }
    }
    this.#running = false;
    if (this.#pending.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  #failed(checkpoint: Checkpoint, err: unknown): void {
    const now = Date.now();
    this.#failingSince ??= now;
    this.#attempts++;
    this.#lastError = (err as Error).message ?? String(err);
    this.logger.warn(
      { event: "audit.checkpoint_delivery_failed", sink: this.sink.name, seq: checkpoint.seq, attempt: this.#attempts, err: this.#lastError },
      `audit: checkpoint of seq ${checkpoint.seq} not delivered to sink ${this.sink.name} (${this.#lastError}); retrying`,
    );
    const problem = this.problem(now);
    if (problem && !this.#alerted) {
      this.#alerted = true;
      this.logger.error({ event: "audit.checkpoint_sink_down", sink: this.sink.name, since: new Date(this.#failingSince).toISOString() }, problem);
      this.alerter?.raise({ kind: "audit_checkpoint_failed", tool: null, owner: null, reason: problem });
    }
  }

  #recovered(): void {
    if (this.#failingSince === null) return;
    this.logger.info(
      { event: "audit.checkpoint_delivered_again", sink: this.sink.name, downMs: Date.now() - this.#failingSince },
      `audit: checkpoint sink ${this.sink.name} delivers again`,
    );
    this.#failingSince = null;
    this.#attempts = 0;
    this.#alerted = false;
    this.#lastError = null;
  }

  #backoff(): Promise<void> {
    const delay = Math.min(this.policy.maxMs, this.policy.initialMs * 2 ** Math.min(this.#attempts - 1, 30));
    return new Promise((resolve) => {
      this.#wake = () => {
        if (this.#timer) clearTimeout(this.#timer);
        this.#wake = null;
        resolve();
      };
      this.#timer = setTimeout(() => this.#wake?.(), delay);
      this.#timer.unref();
    });
  }
}
