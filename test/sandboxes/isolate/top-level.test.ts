/**
 * Issue #16 item 2: module top-level code ran on the worker's main thread
 * (evaluateSync), up to 1 s per context prepared, twice per call, outside the
 * call's deadline: 4 spinning calls made another tool's calls fail. Top-level
 * code now runs on an isolated-vm thread, and a top level that fails is a
 * verdict for the digest: the next calls fail at once instead of re-running it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { ECHO_SOURCE, runTool, toolInTempDir } from "./tool-in-temp-dir.js";

const code = (outcome: { ok: boolean; error?: { code: string } }) => (outcome.ok ? "ok" : outcome.error!.code);

describe("module top-level code cannot stall other tools", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor();
    await executor.ready();
  });
  after(() => executor.close());

  // The review's scenario: 4 spinning calls fill every isolate of both workers (2 × 2). Before the fix every
  // echo sent to a worker waited behind 1 s of top-level spinning on its main thread per context prepared.
  test("4 calls of a tool spinning at module scope do not delay another tool's calls", async () => {
    const spinner = toolInTempDir(`while (true) {}\nexport default async function run() { return 1; }`, { timeoutMs: 5_000 });
    const echo = toolInTempDir(ECHO_SOURCE, { timeoutMs: 5_000 });
    await executor.prepare(echo);
    assert.equal(code(await runTool(executor, echo, { warm: true })), "ok");
    const spinning = Array.from({ length: 4 }, () => runTool(executor, spinner));
    await new Promise((r) => setTimeout(r, 50)); // the spinners' top level is running
    const started = Date.now();
    const latencies: number[] = [];
    const echoes = [];
    for (let i = 0; i < 15; i++) {
      const t = Date.now();
      echoes.push(await runTool(executor, echo, { i }));
      latencies.push(Date.now() - t);
    }
    assert.deepEqual(echoes.map(code), Array(15).fill("ok"), `echo outcomes: ${JSON.stringify(echoes)}`);
    // Before the fix every echo sent to a worker waited behind 1 s of top-level spinning on its main thread.
    assert.ok(Math.max(...latencies) < 600, `echo latencies ${latencies.join(",")} ms (spinners started ${Date.now() - started} ms ago)`);
    for (const outcome of await Promise.all(spinning)) assert.equal(code(outcome), "E_TIMEOUT");
  });

  test("a top level that times out is a verdict: the next call fails at once", async () => {
    const spinner = toolInTempDir(`while (true) {}\nexport default async function run() { return 1; }`, { timeoutMs: 5_000 });
    assert.equal(code(await runTool(executor, spinner)), "E_TIMEOUT");
    const t = Date.now();
    const again = await runTool(executor, spinner);
    assert.equal(code(again), "E_TIMEOUT");
    assert.match(again.ok ? "" : again.error.message, /top-level/);
    assert.ok(Date.now() - t < 300, `the second call took ${Date.now() - t} ms: the top level ran again`);
  });

  test("a top level that throws is a verdict too, with the tool's message", async () => {
    const broken = toolInTempDir(`const t = Date.now(); while (Date.now() - t < 500) {}\nthrow new Error("broken top level");\nexport default async function run() { return 1; }`);
    const first = await runTool(executor, broken);
    assert.equal(code(first), "E_TOOL_FAILED");
    assert.match(first.ok ? "" : first.error.message, /broken top level/);
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      const again = await runTool(executor, broken);
      assert.deepEqual(again, first);
      assert.ok(Date.now() - t < 300, `call ${i + 2} took ${Date.now() - t} ms: the top level ran again`);
    }
  });
});
