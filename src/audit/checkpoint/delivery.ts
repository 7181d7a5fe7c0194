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
  #pending: Array<{ checkpoint: Checkpoint; queuedAt: number }> = [];
  #watchdog: NodeJS.Timeout | null = null;
  #running = false;
  #failingSince: number | null = null;
  #lastError: string | null = null;
  #attempts = 0;
  #alerted = false;
  #lastDeliveredAt = 0;
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
    this.#pending.push({ checkpoint, queuedAt: Date.now() });
    this.#startWatchdog();
    if (this.#pending.length > this.policy.maxPending) {
      const dropped = this.#pending.shift()!.checkpoint;
      this.logger.error({ event: "audit.checkpoint_dropped", sink: this.sink.name, seq: dropped.seq }, `audit: checkpoint sink ${this.sink.name} is too far behind; dropped the checkpoint of seq ${dropped.seq} (newer ones cover it)`);
    }
    if (!this.#running) void this.#drain();
  }

  get pending(): number {
    return this.#pending.length;
  }

  /**
   * A line for /healthz when a checkpoint has waited at least alertAfterMs
   * (failing, or a delivery that hangs), else null.
   */
  problem(now = Date.now()): string | null {
    const oldest = this.#pending[0];
    if (!oldest) return null;
    // Waiting since it was queued, or since the last delivery while a backlog drains.
    const waiting = Math.max(oldest.queuedAt, this.#lastDeliveredAt);
    if (now - waiting < this.policy.alertAfterMs) return null;
    const since = new Date(this.#failingSince ?? waiting).toISOString();
    // No error text here: /healthz answers without a token, and a command's stderr or a URL is not for everyone.
    return `audit checkpoint sink ${this.sink.name} has not delivered since ${since} (${this.#pending.length} pending from seq ${oldest.checkpoint.seq})`;
  }

  /** While anything is pending, checks every so often whether it has waited too long (a hanging sink never fails). */
  #startWatchdog(): void {
    if (this.#watchdog) return;
    this.#watchdog = setInterval(() => {
      if (this.#pending.length === 0 || this.#closed) {
        clearInterval(this.#watchdog!);
        this.#watchdog = null;
        return;
      }
      this.#alertIfDue();
    }, Math.max(10, Math.floor(this.policy.alertAfterMs / 4)));
    this.#watchdog.unref();
  }

  #alertIfDue(): void {
    const problem = this.problem();
    if (!problem || this.#alerted) return;
    this.#alerted = true;
    const detail = `${problem}; ${this.#lastError ?? "delivery not answered"}`;
    this.logger.error({ event: "audit.checkpoint_sink_down", sink: this.sink.name, pending: this.#pending.length, err: this.#lastError }, detail);
    this.alerter?.raise({ kind: "audit_checkpoint_failed", tool: null, owner: null, reason: detail });
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
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#wake?.();
    if (this.#pending.length > 0) {
      this.logger.error(
        { event: "audit.checkpoint_undelivered", sink: this.sink.name, seqs: this.#pending.map((p) => p.checkpoint.seq) },
        `audit: ${this.#pending.length} checkpoint(s) could not be delivered to sink ${this.sink.name} before shutdown`,
      );
    }
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#pending.length > 0 && !this.#closed) {
      const checkpoint = this.#pending[0]!.checkpoint;
      try {
        await this.sink.deliver(checkpoint);
        this.#pending.shift();
        this.delivered++;
        this.#lastDeliveredAt = Date.now();
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
    this.#failingSince ??= Date.now();
    this.#attempts++;
    this.#lastError = (err as Error).message ?? String(err);
    this.logger.warn(
      { event: "audit.checkpoint_delivery_failed", sink: this.sink.name, seq: checkpoint.seq, attempt: this.#attempts, err: this.#lastError },
      `audit: checkpoint of seq ${checkpoint.seq} not delivered to sink ${this.sink.name} (${this.#lastError}); retrying`,
    );
    this.#alertIfDue();
  }

  #recovered(): void {
    if (this.#failingSince === null && !this.#alerted) return;
    this.logger.info(
      { event: "audit.checkpoint_delivered_again", sink: this.sink.name, downMs: this.#failingSince === null ? null : Date.now() - this.#failingSince },
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
