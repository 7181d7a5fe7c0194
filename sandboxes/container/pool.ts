/**
 * Warm pool: per tool, a few containers already created, started and blocked
 * reading stdin, so a call skips create+start (the cost of `docker run`).
 * Each pooled container serves exactly one call, then is removed; the
 * replacement is started in the background. The pool is bounded per tool and
 * in total so idle memory stays small.
 */
import type { SandboxTool } from "../executor.js";
import { poolKey } from "./container-spec.js";
import { removeContainer, type StartedSandbox } from "./sandbox.js";

export interface PoolOptions {
  /** Idle containers kept per tool (0 disables the pool). */
  perTool: number;
  /** Idle containers kept across all tools; the least recently used tool gives way. */
  maxIdle: number;
  start(tool: SandboxTool, env: Record<string, string>): Promise<StartedSandbox>;
  onError(tool: SandboxTool, err: unknown): void;
}

interface ToolPool {
  key: string;
  tool: SandboxTool;
  env: Record<string, string>;
  idle: StartedSandbox[];
  starting: number;
  /** Starts in flight, so prepare() can wait for the ones a call already triggered. */
  inflight: Set<Promise<void>>;
  lastUsed: number;
  /** After a failed start, do not retry before this time (a missing image must not spin). */
  backoffUntil: number;
}

const FAILURE_BACKOFF_MS = 5000;

export class SandboxPool {
  private readonly pools = new Map<string, ToolPool>();
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** A live pooled container for exactly this tool+env, or undefined. Always schedules a refill. */
  take(tool: SandboxTool, env: Record<string, string>): StartedSandbox | undefined {
    if (this.options.perTool <= 0 || this.closed) return undefined;
    const pool = this.poolFor(tool, env);
    pool.lastUsed = Date.now();
    let sandbox: StartedSandbox | undefined;
    while ((sandbox = pool.idle.shift())) {
      if (!sandbox.isEnded()) break;
      this.track(removeContainer(sandbox.container));
    }
    this.refill(pool);
    return sandbox;
  }

  /** Fills the tool's pool and waits for it (prepare). */
  async fill(tool: SandboxTool, env: Record<string, string>): Promise<void> {
    if (this.options.perTool <= 0 || this.closed) return;
    const pool = this.poolFor(tool, env);
    pool.lastUsed = Date.now();
    pool.backoffUntil = 0;
    this.refill(pool);
    await Promise.all([...pool.inflight]);
  }

  idleCount(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.idle.length;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    const all = [...this.pools.values()].flatMap((p) => p.idle);
    this.pools.clear();
    await Promise.all(all.map((s) => removeContainer(s.container)));
  }

  private poolFor(tool: SandboxTool, env: Record<string, string>): ToolPool {
    const key = poolKey(tool, env);
    let pool = this.pools.get(tool.name);
    if (pool && pool.key !== key) {
      // The tool changed (new digest, limits, grants or secrets): its idle containers are stale.
      for (const s of pool.idle) this.track(removeContainer(s.container));
      pool = undefined;
    }
    if (!pool) {
      pool = { key, tool, env, idle: [], starting: 0, inflight: new Set(), lastUsed: Date.now(), backoffUntil: 0 };
      this.pools.set(tool.name, pool);
    }
    return pool;
  }

  private refill(pool: ToolPool): void {
    while (!this.closed && pool.idle.length + pool.starting < this.options.perTool && Date.now() >= pool.backoffUntil) {
      if (!this.makeRoom(pool)) break;
      pool.starting += 1;
      const p = this.options
        .start(pool.tool, pool.env)
        .then((sandbox) => {
          if (this.closed || this.pools.get(pool.tool.name) !== pool) return removeContainer(sandbox.container);
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
          pool.backoffUntil = Date.now() + FAILURE_BACKOFF_MS;
          this.options.onError(pool.tool, err);
        })
        .finally(() => {
          pool.starting -= 1;
          pool.inflight.delete(p);
        });
      pool.inflight.add(p);
      this.track(p);
    }
  }

  /** Evicts idle containers of the least recently used other tools until one more fits under maxIdle. */
  private makeRoom(keep: ToolPool): boolean {
    const total = (): number => [...this.pools.values()].reduce((n, p) => n + p.idle.length + p.starting, 0);
    while (total() >= this.options.maxIdle) {
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
