/**
 * Warm pool: per tool, containers already created, started and blocked at the
 * gate, so a call skips create+start (the cost of `docker run`). Each pooled
 * container serves exactly one call, then is removed; replacements start in
 * the background, several at once. Each tool's pool is sized from its recent
 * arrival rate (pool-sizing.ts): at least `perTool`, at most `perToolMax`,
 * shrinking back to `perTool` when calls stop; all pools together stay under
 * `maxIdle` so idle memory stays bounded.
 */
import type { ContainerSandboxTool } from "../executor.js";
import { poolKey } from "../docker/container-spec.js";
import { pruneArrivals, SIZING_DEFAULTS, targetPoolSize, type SizingPolicy } from "./pool-sizing.js";
import { removeContainer } from "../docker/sandbox.js";
import type { StartedSandbox } from "./started-sandbox.js";

export interface PoolOptions {
  /** Idle containers always kept per tool (the floor; 0 disables the pool). */
  perTool: number;
  /** Upper bound of one tool's pool under load. Default: `perTool` (no growth). */
  perToolMax?: number;
  /** Containers (idle + starting) across all tools; growth never evicts another tool's floor. */
  maxIdle: number;
  /** Arrivals older than this no longer count toward a tool's rate. Default 10 s. */
  windowMs?: number;
  /** How often idle pools shrink back toward their target; 0 disables the timer (tests call shrink()). Default 1 s. */
  shrinkIntervalMs?: number;
  start(tool: ContainerSandboxTool, env: Record<string, string>): Promise<StartedSandbox>;
  onError(tool: ContainerSandboxTool, err: unknown): void;
}

/** The pool's own counters: what the tests and the bench assert on. */
export interface PoolStats {
  /** Calls served by a warm container. */
  hits: number;
  /** Calls that found no warm container (they start a cold one). */
  misses: number;
  /** Pool containers started successfully. */
  started: number;
  startFailures: number;
  /** Idle containers removed because the tool's pool shrank. */
  shrunk: number;
  /** Misses that waited for a pool container already starting instead of starting one more. */
  claimed: number;
  /** Largest number of pool starts in flight at once. */
  maxParallelStarts: number;
  tools: Record<string, { idle: number; starting: number; target: number }>;
}

interface ToolPool {
  key: string;
  tool: ContainerSandboxTool;
  env: Record<string, string>;
  idle: StartedSandbox[];
  starting: number;
  /** Starts in flight, so prepare() can wait for the ones a call already triggered. */
  inflight: Set<Promise<void>>;
  lastUsed: number;
  /** After a failed start, do not retry before this time (a missing image must not spin). */
  backoffUntil: number;
  /** Call arrivals (take) within the sizing window, ascending. */
  arrivals: number[];
  /** Recent start time of this tool's containers (moving average), ms. */
  startMs: number;
  /** Calls waiting for a container already starting (claim), served first come first served. */
  waiters: Array<(sandbox: StartedSandbox | undefined) => void>;
}

const FAILURE_BACKOFF_MS = 5000;
/** A tool's pool shrinks only after this long without a call. */
const SHRINK_QUIET_MS = 2000;
/** Start time assumed before the first measurement (a create+attach+start on an idle engine). */
const INITIAL_START_MS = 500;

export class SandboxPool {
  private readonly pools = new Map<string, ToolPool>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly policy: Omit<SizingPolicy, "floor" | "max">;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly counters = { hits: 0, misses: 0, started: 0, startFailures: 0, shrunk: 0, claimed: 0, maxParallelStarts: 0 };
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    this.policy = { windowMs: options.windowMs ?? SIZING_DEFAULTS.windowMs, headroom: SIZING_DEFAULTS.headroom };
    const every = options.shrinkIntervalMs ?? 1000;
    if (every > 0 && options.perTool > 0) this.timer = setInterval(() => this.shrink(), every).unref();
  }

  /** A live pooled container for exactly this tool+env, or undefined. Always schedules a refill. */
  take(tool: ContainerSandboxTool, env: Record<string, string>): StartedSandbox | undefined {
    if (this.options.perTool <= 0 || this.closed) return undefined;
    const pool = this.poolFor(tool, env);
    const now = Date.now();
    pool.lastUsed = now;
    pool.arrivals.push(now);
    pruneArrivals(pool.arrivals, now, this.policy.windowMs);
    let sandbox: StartedSandbox | undefined;
    while ((sandbox = pool.idle.shift())) {
      if (!sandbox.isEnded()) break;
      this.track(removeContainer(sandbox.container));
    }
    if (sandbox) this.counters.hits += 1;
    else this.counters.misses += 1;
    this.refill(pool);
    return sandbox;
  }

  /**
   * After a miss (take returned undefined): waits for a pool container that is
   * already starting and not promised to another call, instead of starting one
   * more — on a busy engine every extra start slows all of them. Returns
   * undefined at once when none is starting, or later when that start failed
   * or `signal` fired (the caller then starts a cold one or gives up).
   */
  claim(tool: ContainerSandboxTool, env: Record<string, string>, signal: AbortSignal): Promise<StartedSandbox | undefined> | undefined {
    if (this.options.perTool <= 0 || this.closed || signal.aborted) return undefined;
    const pool = this.pools.get(tool.name);
    if (!pool || pool.key !== poolKey(tool, env) || pool.starting <= pool.waiters.length) return undefined;
    return new Promise((resolve) => {
      const waiter = (sandbox: StartedSandbox | undefined): void => {
        signal.removeEventListener("abort", onAbort);
        if (sandbox) this.counters.claimed += 1;
        resolve(sandbox);
      };
      const onAbort = (): void => {
        const i = pool.waiters.indexOf(waiter);
        if (i >= 0) pool.waiters.splice(i, 1);
        resolve(undefined);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      pool.waiters.push(waiter);
    });
  }

  /** Fills the tool's pool and waits for it (prepare). */
  async fill(tool: ContainerSandboxTool, env: Record<string, string>): Promise<void> {
    if (this.options.perTool <= 0 || this.closed) return;
    const pool = this.poolFor(tool, env);
    pool.lastUsed = Date.now();
    pool.backoffUntil = 0;
    this.refill(pool);
    await Promise.all([...pool.inflight]);
  }

  /** Removes one idle container above each tool's current target (calls stopped: the pool falls back to its floor). */
  shrink(now = Date.now()): void {
    if (this.closed) return;
    for (const pool of this.pools.values()) {
      pruneArrivals(pool.arrivals, now, this.policy.windowMs);
      // Only a quiet tool shrinks: while calls keep arriving, a removed container is one the next call misses.
      if (now - (pool.arrivals.at(-1) ?? 0) < SHRINK_QUIET_MS) continue;
      const excess = pool.idle.length + pool.starting - this.target(pool, now);
      // One container per pass, oldest first: a rate that dips for a moment (a pause between bursts) must not
      // remove what the next burst needs at once; a pool idle for the whole window still reaches its floor.
      if (excess > 0 && pool.idle.length > 0) {
        this.track(removeContainer(pool.idle.shift()!.container));
        this.counters.shrunk += 1;
      }
    }
  }

  idleCount(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.idle.length;
    return n;
  }

  stats(now = Date.now()): PoolStats {
    const tools: PoolStats["tools"] = {};
    for (const [name, p] of this.pools) tools[name] = { idle: p.idle.length, starting: p.starting, target: this.target(p, now) };
    return { ...this.counters, tools };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const p of this.pools.values()) for (const w of p.waiters.splice(0)) w(undefined);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    const all = [...this.pools.values()].flatMap((p) => p.idle);
    this.pools.clear();
    await Promise.all(all.map((s) => removeContainer(s.container)));
  }

  private target(pool: ToolPool, now: number): number {
    const floor = this.options.perTool;
    const max = Math.max(floor, this.options.perToolMax ?? floor);
    return targetPoolSize({ ...this.policy, floor, max }, pool.arrivals, now, pool.startMs);
  }

  private poolFor(tool: ContainerSandboxTool, env: Record<string, string>): ToolPool {
    const key = poolKey(tool, env);
    let pool = this.pools.get(tool.name);
    if (pool && pool.key !== key) {
      // The tool changed (new digest, limits, grants or secrets): its idle containers are stale.
      for (const s of pool.idle) this.track(removeContainer(s.container));
      for (const w of pool.waiters.splice(0)) w(undefined);
      pool = { ...this.freshPool(key, tool, env), arrivals: pool.arrivals, startMs: pool.startMs };
      this.pools.set(tool.name, pool);
    }
    if (!pool) {
      pool = this.freshPool(key, tool, env);
      this.pools.set(tool.name, pool);
    }
    return pool;
  }

  private freshPool(key: string, tool: ContainerSandboxTool, env: Record<string, string>): ToolPool {
    return { key, tool, env, idle: [], starting: 0, inflight: new Set(), lastUsed: Date.now(), backoffUntil: 0, arrivals: [], startMs: INITIAL_START_MS, waiters: [] };
  }

  /** Starts, all at once, as many containers as the tool's target lacks. */
  private refill(pool: ToolPool): void {
    const target = this.target(pool, Date.now());
    while (!this.closed && pool.idle.length + pool.starting < target && Date.now() >= pool.backoffUntil) {
      // Up to the floor a tool may evict other tools' idle containers (least recently used); above it, only free room.
      if (!this.makeRoom(pool, pool.idle.length + pool.starting < this.options.perTool)) break;
      this.startOne(pool);
    }
  }

  private startOne(pool: ToolPool): void {
    pool.starting += 1;
    this.counters.maxParallelStarts = Math.max(this.counters.maxParallelStarts, this.totalStarting());
    const began = Date.now();
    const p = this.options
      .start(pool.tool, pool.env)
      .then((sandbox) => {
        if (this.closed || this.pools.get(pool.tool.name) !== pool) return removeContainer(sandbox.container);
        this.counters.started += 1;
        pool.startMs = 0.7 * pool.startMs + 0.3 * (Date.now() - began);
        const waiter = pool.waiters.shift();
        if (waiter) {
          // Handed straight to a call that missed (never one that died meanwhile); the pool tops up behind it.
          if (!sandbox.isEnded()) return waiter(sandbox);
          waiter(undefined);
          return removeContainer(sandbox.container);
        }
        pool.idle.push(sandbox);
        // A pooled container that dies while idle (crash, external kill) leaves the pool at once.
        void sandbox.ended.then(() => {
          const i = pool.idle.indexOf(sandbox);
          if (i >= 0) {
            pool.idle.splice(i, 1);
            this.track(removeContainer(sandbox.container));
          }
        });
      })
      .catch((err: unknown) => {
        // A call waiting for this container starts its own (and meets the same error, with its message).
        pool.waiters.shift()?.(undefined);
        this.counters.startFailures += 1;
        pool.backoffUntil = Date.now() + FAILURE_BACKOFF_MS;
        this.options.onError(pool.tool, err);
      })
      .finally(() => {
        pool.starting -= 1;
        pool.inflight.delete(p);
        // A container handed to a waiting call leaves the pool short: top up (a failure's backoff still holds).
        if (!this.closed && this.pools.get(pool.tool.name) === pool) this.refill(pool);
      });
    pool.inflight.add(p);
    this.track(p);
  }

  private totalStarting(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.starting;
    return n;
  }

  /** Makes room for one more container under maxIdle; with `evict`, by removing idle ones of the least recently used other tools. */
  private makeRoom(keep: ToolPool, evict: boolean): boolean {
    const total = (): number => [...this.pools.values()].reduce((n, p) => n + p.idle.length + p.starting, 0);
    while (total() >= this.options.maxIdle) {
      if (!evict) return false;
      const victim = [...this.pools.values()]
        .filter((p) => p !== keep && p.idle.length > 0)
        .sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!victim) return false;
      this.track(removeContainer(victim.idle.shift()!.container));
    }
    return true;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => {});
    return p;
  }
}
