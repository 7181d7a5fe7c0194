/**
 * The isolate worker processes. A worker that dies is reported (so its calls
 * end E_SANDBOX_CRASHED) and replaced; a worker that keeps dying right after
 * start is replaced with growing back-off instead of a fork storm.
 *
 * Only the first worker starts with the pool (#14: each costs ~50-100 MB of
 * RSS, and most servers run one call at a time). The others start on the first
 * concurrent demand: when every live worker has all its isolates busy, so a
 * tenant's slow calls filling one worker never stall another tenant's call for
 * longer than a worker start (test/mcp/tenants.test.ts).
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../src/logger.js";
import type { FromWorker, ToWorker } from "./protocol.js";

const WORKER_PATH = fileURLToPath(new URL("./worker.js", import.meta.url));
/** A worker that dies sooner than this after its start counts as a failed start. */
const QUICK_DEATH_MS = 2_000;
const MAX_BACKOFF_MS = 5_000;

export interface WorkerHandle {
  readonly child: ChildProcess;
  /** Ids of calls the worker still runs or is still tearing down (aborted calls stay until it answers). */
  readonly inflight: Set<number>;
  /** Tool keys whose modules this worker has already received. */
  readonly knownTools: Set<string>;
  lastPicked: number;
  alive: boolean;
  /** Resolves once the worker has loaded isolated-vm (or has died trying). */
  readonly booted: Promise<void>;
  /** Set when `booted` has resolved (checked on the hot path without an await). */
  isBooted: boolean;
  /** Messages of this turn not written yet (see send). */
  outbox: ToWorker[];
}

/** One message of a worker, batches unpacked. */
export type WorkerMessage = Exclude<FromWorker, { t: "batch" }>;

export interface WorkerPoolEvents {
  message(worker: WorkerHandle, message: WorkerMessage): void;
  exit(worker: WorkerHandle, inflight: number[]): void;
}

export class WorkerPool {
  private readonly workers: Array<WorkerHandle | undefined>;
  private quickDeaths = 0;
  private closed = false;
  private pickCounter = 0;
  private waiters: Array<() => void> = [];

  constructor(
    size: number,
    readonly isolatesPerWorker: number,
    private readonly events: WorkerPoolEvents,
    private readonly logger?: Logger,
  ) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => undefined);
    this.spawn(0);
  }

  /**
   * Where the next call goes: the booted worker with the fewest calls (ties go to the one picked longest ago, so
   * idle workers refill in turn), if it has room for the call (`hasRoom`, default: a free isolate). Otherwise a
   * worker that is still starting (one is started here if the pool may grow), else that least busy one, where
   * the call waits for an isolate.
   */
  pick(hasRoom: (worker: WorkerHandle) => boolean = (w) => w.inflight.size < this.isolatesPerWorker): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let starting: WorkerHandle | undefined;
    for (const w of this.workers) {
      if (!w?.alive) continue;
      if (!w.isBooted) {
        starting ??= w;
        continue;
      }
      if (!best || w.inflight.size < best.inflight.size || (w.inflight.size === best.inflight.size && w.lastPicked < best.lastPicked)) best = w;
    }
    if (!best || !hasRoom(best)) {
      starting ??= this.grow();
      if (starting || !best) best = starting;
    }
    if (best) best.lastPicked = ++this.pickCounter;
    return best;
  }

  /** Starts one more worker ahead of need once every live one has all its isolates busy (or is starting). */
  growIfFull(): void {
    if (this.live().every((w) => !w.isBooted || w.inflight.size >= this.isolatesPerWorker)) this.grow();
  }

  /** Starts a worker in the first free place, if any (never more than `size`). */
  private grow(): WorkerHandle | undefined {
    if (this.closed) return undefined;
    const index = this.workers.indexOf(undefined);
    if (index === -1) return undefined;
    this.spawn(index);
    return this.workers[index];
  }

  /** Resolves when a worker is running again (all were dead: crashed, or backing off after failed starts). */
  whenAvailable(): Promise<void> {
    if (this.live().length > 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  live(): WorkerHandle[] {
    return this.workers.filter((w): w is WorkerHandle => w?.alive === true);
  }

  /** Queued, and written with the other messages for this worker of the same turn in one IPC write (in order). */
  send(worker: WorkerHandle, message: ToWorker): void {
    if (!worker.alive) return;
    if (worker.outbox.push(message) === 1) queueMicrotask(() => this.flush(worker));
  }

  private flush(worker: WorkerHandle): void {
    const batch = worker.outbox;
    worker.outbox = [];
    if (!worker.alive || batch.length === 0) return;
    try {
      const payload: ToWorker = batch.length === 1 ? batch[0]! : { t: "batch", messages: batch };
      worker.child.send(payload);
    } catch {
      // The channel closed under us; the exit handler ends this worker's calls.
    }
  }

  kill(worker: WorkerHandle): void {
    worker.child.kill("SIGKILL");
  }

  /**
   * Resolves when a worker has booted: a fork plus loading isolated-vm takes long on a busy host. A worker
   * started later on demand is not waited for here (the call sent to it waits for it, its deadline paused).
   */
  async ready(): Promise<void> {
    const live = this.live();
    if (live.length === 0 || live.some((w) => w.isBooted)) return;
    // The workers' channels are unref'd; without this a script awaiting ready() would simply exit.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
      await Promise.race(live.map((w) => w.booted));
    } finally {
      clearInterval(keepAlive);
    }
  }

  pids(): number[] {
    return this.live().flatMap((w) => (w.child.pid === undefined ? [] : [w.child.pid]));
  }

  close(): void {
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    for (const w of this.workers) if (w?.alive) w.child.kill("SIGKILL");
  }

  private spawn(index: number): void {
    const startedAt = Date.now();
    const child = fork(WORKER_PATH, [String(this.isolatesPerWorker)], {
      execPath: process.execPath,
      // 1 MB semi-spaces (flags are per process, so every isolate of the worker gets them): a worker's own heap
      // is small and its isolates' garbage is mostly whole contexts; measured 118 → 97 MB RSS for 2,000
      // word_stats contexts in one isolate, with no loss of contexts/s (#14).
      execArgv: ["--no-node-snapshot", "--max-semi-space-size=1"],
      serialization: "json",
      // stdout stays closed: in the stdio transport the broker's stdout is the MCP channel.
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    // Idle workers must not keep the broker alive; an in-flight call's deadline timer does while it runs.
    child.unref();
    child.channel?.unref();
    let resolveBooted!: () => void;
    const booted = new Promise<void>((resolve) => (resolveBooted = resolve));
    const markBooted = () => {
      worker.isBooted = true;
      resolveBooted();
    };
    const worker: WorkerHandle = { child, inflight: new Set(), knownTools: new Set(), lastPicked: 0, alive: true, booted, isBooted: false, outbox: [] };
    this.workers[index] = worker;
    for (const wake of this.waiters.splice(0)) wake();
    const receive = (message: FromWorker): void => {
      if (message.t === "ready") markBooted();
      else if (message.t === "batch") for (const each of message.messages) receive(each);
      else this.events.message(worker, message);
    };
    child.on("message", receive);
    child.on("error", () => undefined); // "exit" follows and does the work
    child.once("exit", (code, signal) => {
      worker.alive = false;
      markBooted();
      const inflight = [...worker.inflight];
      worker.inflight.clear();
      this.events.exit(worker, inflight);
      if (this.closed) return;
      this.quickDeaths = Date.now() - startedAt < QUICK_DEATH_MS ? this.quickDeaths + 1 : 0;
      const delay = this.quickDeaths <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** this.quickDeaths);
      this.logger?.warn({ code, signal, inflight: inflight.length, respawnInMs: delay }, "isolate worker exited; starting a replacement");
      // At once after a crash (a forked child buffers our messages until it is up), so the next call finds a worker.
      if (delay === 0) this.spawn(index);
      else setTimeout(() => !this.closed && this.spawn(index), delay).unref();
    });
  }
}
