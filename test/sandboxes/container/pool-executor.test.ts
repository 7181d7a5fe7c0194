/**
 * The pool on a real engine (issue 13 §3): a burst of calls grows the tool's
 * pool, and the next burst is served warm. Deterministic: asserts on the
 * pool's own counters, not on timings.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createContainerExecutor, type ContainerExecutor } from "../../../sandboxes/container/index.js";
import { call, docker, fixtureTool, requireDocker } from "./fixture.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("container pool under a burst", () => {
  let executor: ContainerExecutor;
  before(() => {
    // Long window, no shrink timer: the grown target holds for the whole test.
    executor = createContainerExecutor({
      docker,
      serverId: `poolx${process.pid}`,
      poolSize: 1,
      poolMax: 4,
      maxIdle: 8,
      poolWindowMs: 120_000,
      poolShrinkIntervalMs: 0,
      reapIntervalMs: 0,
    });
  });
  after(async () => {
    await executor.close();
  });

  test("a burst of calls grows the pool, and the next burst is served warm", async (t) => {
    if (!(await requireDocker(t))) return;
    const tool = fixtureTool("echo", { name: "fixture_burst" });
    await executor.prepare(tool);
    assert.equal(executor.poolStats().tools[tool.name]?.idle, 1, "the floor: one warm container");

    // 8 calls at once: one warm, seven cold; the arrivals raise the tool's target above the floor.
    const first = await Promise.all(Array.from({ length: 8 }, (_, i) => call(executor, tool, { i })));
    assert.ok(first.every((o) => o.ok), JSON.stringify(first.find((o) => !o.ok)));
    const afterFirst = executor.poolStats();
    assert.equal(afterFirst.hits, 1);
    assert.equal(afterFirst.misses, 7);

    // Wait (state-based) until the grown pool is started.
    let pool = executor.poolStats().tools[tool.name]!;
    for (let i = 0; i < 600 && !(pool.idle >= pool.target && pool.starting === 0); i++) {
      await sleep(100);
      pool = executor.poolStats().tools[tool.name]!;
    }
    assert.ok(pool.target >= 2, `the pool grew above its floor (target ${pool.target})`);
    assert.ok(pool.target <= 4, "and stayed within poolMax");
    assert.equal(pool.idle, pool.target, "the grown pool is warm");
    assert.ok(executor.poolStats().maxParallelStarts >= 2, "replacements started in parallel");

    // The next burst, as large as the grown pool: every call warm.
    const k = pool.idle;
    const second = await Promise.all(Array.from({ length: k }, (_, i) => call(executor, tool, { i })));
    assert.ok(second.every((o) => o.ok));
    const afterSecond = executor.poolStats();
    assert.equal(afterSecond.hits, afterFirst.hits + k, `all ${k} calls of the second burst were warm`);
    assert.equal(afterSecond.misses, afterFirst.misses, "no cold start in the second burst");
  });
});
