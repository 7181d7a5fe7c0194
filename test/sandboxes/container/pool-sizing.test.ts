/**
 * The pool's sizing policy as a pure function (issue 13 §3): arrival rate →
 * target size, bounded by the floor and the per-tool maximum, back to the
 * floor when calls stop. No engine needed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { arrivalRate, pruneArrivals, targetPoolSize, type SizingPolicy } from "../../../sandboxes/container/pool-sizing.js";

const policy: SizingPolicy = { floor: 1, max: 8, windowMs: 10_000, headroom: 1.5 };
/** n arrivals, `gapMs` apart, the last one at `end`. */
const arrivals = (n: number, gapMs: number, end: number): number[] => Array.from({ length: n }, (_, i) => end - (n - 1 - i) * gapMs);

describe("pool sizing", () => {
  test("no arrivals: the target is the floor", () => {
    assert.equal(arrivalRate([], 50_000, 10_000), 0);
    assert.equal(targetPoolSize(policy, [], 50_000, 500), 1);
    assert.equal(targetPoolSize({ ...policy, floor: 3 }, [], 50_000, 500), 3);
  });

  test("calls one second apart need no more than the floor", () => {
    const now = 100_000;
    assert.equal(targetPoolSize(policy, arrivals(10, 1000, now), now, 400), 1);
  });

  test("calls 100 ms apart grow the pool to rate × start time × headroom", () => {
    const now = 100_000;
    const a = arrivals(30, 100, now); // ~10/s over 2.9 s
    const rate = arrivalRate(a, now, 10_000);
    assert.ok(rate > 9 && rate < 11, `rate ${rate}`);
    // 10.3/s × 0.4 s × 1.5 = 6.2 → 7
    assert.equal(targetPoolSize(policy, a, now, 400), 7);
    // A faster engine needs fewer warm containers.
    assert.equal(targetPoolSize(policy, a, now, 100), 2);
  });

  test("the per-tool maximum caps growth, and the floor wins over a smaller maximum", () => {
    const now = 100_000;
    const flood = arrivals(200, 10, now); // 100/s
    assert.equal(targetPoolSize(policy, flood, now, 1000), 8);
    assert.equal(targetPoolSize({ ...policy, max: 3 }, flood, now, 1000), 3);
    assert.equal(targetPoolSize({ ...policy, floor: 4, max: 2 }, [], now, 1000), 4);
  });

  test("poolSize 0 disables the pool whatever the rate", () => {
    const now = 100_000;
    assert.equal(targetPoolSize({ ...policy, floor: 0 }, arrivals(200, 10, now), now, 1000), 0);
  });

  test("a burst at one instant is measured over at least one second (no division by zero)", () => {
    const now = 100_000;
    const burst = Array.from({ length: 6 }, () => now);
    assert.equal(arrivalRate(burst, now, 10_000), 6);
    assert.equal(targetPoolSize(policy, burst, now, 500), 5); // 6/s × 0.5 s × 1.5 = 4.5 → 5
  });

  test("the pool shrinks as calls stop: the rate decays, then falls out of the window", () => {
    const end = 100_000;
    const a = arrivals(30, 100, end);
    const sizes = [0, 2000, 5000, 9000, 10_001].map((after) => targetPoolSize(policy, a, end + after, 400));
    for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! <= sizes[i - 1]!, `non-increasing: ${sizes.join(",")}`);
    assert.ok(sizes[0]! > 1, "grown while calls arrive");
    assert.equal(sizes.at(-1), 1, "back to the floor once the window holds no arrival");
  });

  test("arrivals in the future or outside the window do not count", () => {
    assert.equal(arrivalRate([1000, 2000, 99_000], 20_000, 10_000), 0);
  });

  test("pruneArrivals drops what left the window and bounds memory per tool", () => {
    const a = [1, 2, 3, 50_000, 50_001];
    pruneArrivals(a, 55_000, 10_000);
    assert.deepEqual(a, [50_000, 50_001]);
    const many = Array.from({ length: 2000 }, (_, i) => 100_000 + i);
    pruneArrivals(many, 102_000, 10_000, 512);
    assert.equal(many.length, 512);
    assert.equal(many[0], 100_000 + 2000 - 512, "the newest arrivals are kept");
  });
});
