import type { KeyObject } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { WardenError } from "../../errors.js";
import type { Alerter } from "../../incident/alerts.js";
import type { AuditLog, ChainHead } from "../types.js";
import { signCheckpoint, type Checkpoint } from "./checkpoint.js";
import { loadSigningKey } from "./keys.js";
import { DEFAULT_RETRY, SinkQueue, type RetryPolicy } from "./delivery.js";
import { createSinks, type SinkConfig } from "./sinks.js";

export interface CheckpointConfig {
  every: number;
  intervalSec: number;
  key: string;
  serverId?: string | undefined;
  alertAfterSec?: number | undefined;
  sink: SinkConfig;
}

export interface CheckpointerOptions {
  log: AuditLog;
  config: CheckpointConfig;
  logger: Logger;
  alerter?: Alerter | null;
  /** Tests shorten the backoff. */
  retry?: Partial<RetryPolicy>;
  /** How long shutdown waits for the final checkpoint to be delivered. */
  shutdownTimeoutMs?: number;
}

export interface Checkpointer {
  /** The last checkpoint signed (null before the first). */
  readonly last: Checkpoint | null;
  /** Problems for /healthz: sinks that have not delivered for a while. */
  problems(): string[];
  /** Signs the head now if records were added since the last checkpoint, waits for delivery (bounded), stops. */
  close(): Promise<void>;
}

const active = new Set<Checkpointer>();

/** /healthz detail lines from every running checkpointer (empty when all deliver, or none runs). */
export function checkpointHealth(): string[] {
  return [...active].flatMap((c) => c.problems());
}

/**
 * Signs the chain's durable head every `every` records, every `intervalSec`
 * seconds when records were added, and at shutdown (SPEC §10). Appends only
 * notify it (a number stored, at most one setImmediate): signing and
 * delivery never run on a call's path, and a sink that hangs never delays a
 * call — it is retried in the background and alerted.
 */
export async function startCheckpointer(options: CheckpointerOptions): Promise<Checkpointer> {
  const { log, config, logger } = options;
  if (!log.onCommitted) throw new WardenError("E_CONFIG", "audit.checkpoint needs a file audit log");
  const { key, looseMode } = await loadSigningKey(config.key);
  if (looseMode) {
    logger.warn({ event: "audit.checkpoint_key_mode", key: config.key }, "audit: the checkpoint signing key is readable by group or others; whoever reads it can forge checkpoints (chmod 600, or a secret mount)");
  }
  const policy: RetryPolicy = { ...DEFAULT_RETRY, alertAfterMs: (config.alertAfterSec ?? 30) * 1000, ...options.retry };
  const queues = createSinks(config.sink).map((sink) => new SinkQueue(sink, policy, logger, options.alerter ?? null));
  const checkpointer = new RunningCheckpointer(log, {
    serverId: config.serverId ?? hostname(),
    key,
    queues,
    every: config.every,
    intervalMs: config.intervalSec * 1000,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 5000,
    logger,
  });
  logger.info({ event: "audit.checkpoints_started", every: config.every, intervalSec: config.intervalSec, sinks: queues.map((q) => q.sink.name) }, "audit: signed checkpoints on");
  return checkpointer;
}

interface RunningOptions {
  serverId: string;
  key: KeyObject;
  queues: SinkQueue[];
  every: number;
  intervalMs: number;
  shutdownTimeoutMs: number;
  logger: Logger;
}

class RunningCheckpointer implements Checkpointer {
  #head: ChainHead | null;
  #signedSeq: number;
  #scheduled = false;
  #closed = false;
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout;
  last: Checkpoint | null = null;

  constructor(
    private readonly log: AuditLog,
    private readonly options: RunningOptions,
  ) {
    // What was on disk at start was covered (or not) by the previous run; re-signing it adds nothing.
    this.#head = log.durableHead ?? null;
    this.#signedSeq = this.#head?.seq ?? 0;
    this.#unsubscribe = log.onCommitted!((head) => this.#committed(head));
    this.#timer = setInterval(() => this.#emitIfBehind(), options.intervalMs);
    this.#timer.unref();
    active.add(this);
  }

  /** On the commit path: remember the head; sign later, off the path. */
  #committed(head: ChainHead): void {
    this.#head = head;
    if (head.seq - this.#signedSeq >= this.options.every && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#emitIfBehind();
      });
    }
  }

  #emitIfBehind(head: ChainHead | null = this.#head): void {
    if (!head || head.seq <= this.#signedSeq) return;
    this.#head = head;
    try {
      const checkpoint = signCheckpoint(head, this.options.serverId, this.options.key);
      this.#signedSeq = head.seq;
      this.last = checkpoint;
      for (const queue of this.options.queues) queue.push(checkpoint);
    } catch (err) {
      this.options.logger.error({ event: "audit.checkpoint_sign_failed", err: (err as Error).message }, "audit: signing a checkpoint failed");
    }
  }

  problems(): string[] {
    return this.options.queues.map((q) => q.problem()).filter((p): p is string => p !== null);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#unsubscribe();
    active.delete(this);
    this.#emitIfBehind(this.log.durableHead ?? null);
    await Promise.all(this.options.queues.map((q) => q.flush(this.options.shutdownTimeoutMs)));
    for (const q of this.options.queues) q.close();
  }
}
