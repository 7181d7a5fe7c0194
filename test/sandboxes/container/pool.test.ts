/**
 * The warm pool's mechanics with a stand-in for the engine (the sizing policy
 * itself is in pool-sizing.test.ts; the executor test runs it on Docker):
 * replacements start in parallel, growth stays under the per-tool and total
 * bounds and never evicts another tool's floor, idle pools shrink.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SandboxPool, type PoolOptions } from "../../../sandboxes/container/pool.js";
import type { StartedSandbox } from "../../../sandboxes/container/started-sandbox.js";
import { fixtureTool } from "./fixture.js";

interface FakeEngine {
  /** Starts requested and not yet finished. */
  pending: Array<() => void>;
  removed: number;
  start: PoolOptions["start"];
}

function fakeEngine(): FakeEngine {
  const engine: FakeEngine = {
    pending: [],
    removed: 0,
    start: () =>
      new Promise<StartedSandbox>((resolve) => {
        engine.pending.push(() => {
          const container = { remove: async () => void (engine.removed += 1) };
          resolve({ container, id: "c", ended: new Promise(() => {}), isEnded: () => false, ip: undefined } as unknown as StartedSandbox);
        });
      }),
  };
  return engine;
}

/** Lets every start in flight finish (after 200 ms, a start time the pool measures) and the pool record it. */
async function finishStarts(engine: FakeEngine): Promise<void> {
  await new Promise<void>((r) => setTimeout(r, 200));
  while (engine.pending.length > 0) engine.pending.shift()!();
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

const env = {};

describe("warm pool", () => {
  test("a burst of calls grows the pool, its replacements start in parallel, and later calls are warm", async () => {
    const engine = fakeEngine();
    const pool = new SandboxPool({ perTool: 1, perToolMax: 6, maxIdle: 16, shrinkIntervalMs: 0, start: engine.start, onError: () => {} });
    const tool = fixtureTool("echo");
    await Promise.all([pool.fill(tool, env), finishStarts(engine)]);
    assert.equal(pool.stats().tools[tool.name]!.idle, 1);
    // 6 calls at one instant: one is warm, the others miss; the pool asks for its new target all at once.
    for (let i = 0; i < 6; i++) pool.take(tool, env);
    assert.equal(pool.stats().hits, 1);
    assert.ok(engine.pending.length >= 4, `replacements started in parallel, not one at a time (${engine.pending.length})`);
    assert.ok(pool.stats().maxParallelStarts >= 4);
    await finishStarts(engine);
    const grown = pool.stats().tools[tool.name]!.idle;
    assert.ok(grown >= 4 && grown <= 6, `grown within poolMax: ${grown}`);
    for (let i = 0; i < grown; i++) assert.ok(pool.take(tool, env), `call ${i} of the next burst is warm`);
    assert.equal(pool.stats().hits, 1 + grown);
    await finishStarts(engine);
    await pool.close();
  });

  test("the per-tool maximum bounds a flood of calls", async () => {
    const engine = fakeEngine();
    const pool = new SandboxPool({ perTool: 1, perToolMax: 3, maxIdle: 16, shrinkIntervalMs: 0, start: engine.start, onError: () => {} });
    const tool = fixtureTool("echo");
    for (let i = 0; i < 100; i++) pool.take(tool, env);
    assert.equal(engine.pending.length, 3);
    await finishStarts(engine);
    assert.equal(pool.idleCount(), 3);
    await pool.close();
  });

  test("growth stays under the total bound and never evicts another tool's floor", async () => {
    const engine = fakeEngine();
    const pool = new SandboxPool({ perTool: 1, perToolMax: 10, maxIdle: 4, shrinkIntervalMs: 0, start: engine.start, onError: () => {} });
    const quiet = fixtureTool("echo", { name: "quiet" });
    const busy = fixtureTool("echo", { name: "busy" });
    await Promise.all([pool.fill(quiet, env), finishStarts(engine)]);
    for (let i = 0; i < 50; i++) pool.take(busy, env);
    await finishStarts(engine);
    const s = pool.stats();
    assert.equal(s.tools.quiet!.idle, 1, "the quiet tool keeps its warm container");
    assert.equal(s.tools.busy!.idle, 3, "the busy tool grows only into free room");
    assert.equal(engine.removed, 0);
    await pool.close();
  });

  test("an idle pool shrinks back to its floor", async () => {
    const engine = fakeEngine();
    const pool = new SandboxPool({ perTool: 1, perToolMax: 6, maxIdle: 16, windowMs: 10_000, shrinkIntervalMs: 0, start: engine.start, onError: () => {} });
    const tool = fixtureTool("echo");
    for (let i = 0; i < 10; i++) pool.take(tool, env);
    await finishStarts(engine);
    const grown = pool.idleCount();
    assert.ok(grown > 1, `grown: ${grown}`);
    pool.shrink(Date.now() + 1000);
    assert.equal(pool.idleCount(), grown, "calls arrived a second ago: no shrink yet");
    const before = pool.idleCount();
    pool.shrink(Date.now() + 10_001);
    assert.equal(pool.idleCount(), before - 1, "one container per pass: a dip in the rate does not empty the pool at once");
    for (let pass = 0; pass < 20; pass++) pool.shrink(Date.now() + 10_001 + pass * 1000);
    assert.equal(pool.idleCount(), 1, "no arrival in the window: back to the floor");
    assert.equal(pool.stats().shrunk, grown - 1, "the excess idle containers were removed");
    await pool.close();
    assert.equal(engine.removed, grown, "shrunk and closed containers are removed from the engine");
  });

  test("a call that misses waits for a container already starting instead of starting one more", async () => {
    const engine = fakeEngine();
    const pool = new SandboxPool({ perTool: 1, perToolMax: 1, maxIdle: 16, shrinkIntervalMs: 0, start: engine.start, onError: () => {} });
    const tool = fixtureTool("echo");
    assert.equal(pool.take(tool, env), undefined, "empty pool: a miss, one start in flight");
    assert.equal(engine.pending.length, 1);
    const claimed = pool.claim(tool, env, new AbortController().signal);
    assert.ok(claimed, "the start in flight is claimable");
    assert.equal(pool.claim(tool, env, new AbortController().signal), undefined, "but by one call only");
    await finishStarts(engine);
    assert.ok(await claimed, "the claimed container is handed to the waiting call");
    assert.equal(pool.stats().claimed, 1);
    assert.equal(pool.idleCount(), 0, "not left idle as well");
    assert.equal(engine.pending.length, 1, "the pool tops up behind the handed-over container");
    await finishStarts(engine);
    assert.equal(pool.idleCount(), 1);
    await pool.close();
  });

  test("a claim gives up on abort and when the start fails, so the call starts its own", async () => {
    let fail = false;
    const engine = fakeEngine();
    const start: PoolOptions["start"] = (t, e) => (fail ? Promise.reject(new Error("image gone")) : engine.start(t, e));
    const pool = new SandboxPool({ perTool: 1, perToolMax: 1, maxIdle: 16, shrinkIntervalMs: 0, start, onError: () => {} });
    const tool = fixtureTool("echo");
    pool.take(tool, env);
    const abort = new AbortController();
    const waiting = pool.claim(tool, env, abort.signal)!;
    abort.abort();
    assert.equal(await waiting, undefined);
    await finishStarts(engine);
    assert.equal(pool.idleCount(), 1, "the container nobody waits for any more goes to the pool");
    fail = true;
    pool.take(tool, env);
    const failed = pool.claim(tool, env, new AbortController().signal);
    assert.equal(await failed, undefined, "the start failed: the waiter is released, not left hanging");
    await pool.close();
  });

  test("poolSize 0: no container is ever started, whatever the rate", async () => {
    const engine = fakeEngine();
    const pool = new SandboxPool({ perTool: 0, perToolMax: 8, maxIdle: 16, start: engine.start, onError: () => {} });
    for (let i = 0; i < 20; i++) assert.equal(pool.take(fixtureTool("echo"), env), undefined);
    assert.equal(engine.pending.length, 0);
    await pool.close();
  });
});
