/**
 * Issue #16 item 4: a tool stuck in an uninterruptible native operation (a big
 * TypedArray sort) made the watchdog kill its worker, and the calls of an
 * unrelated tool on that worker ended E_SANDBOX_CRASHED — counted against the
 * innocent tool, which got quarantined. The crash is charged to the call that
 * caused it; a neighbour that had not started is retried on a fresh worker; a
 * neighbour that was running is marked collateral (never counted).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ExecuteOutcome } from "../../../sandboxes/executor.js";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { NATIVE_STALL_SOURCE, NATIVE_STALL_TIMEOUT_MS, recordingHost, runTool, toolInTempDir } from "./tool-in-temp-dir.js";

describe("a crash is charged to the call that caused it", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor({ workers: 1, isolatesPerWorker: 2 });
    await executor.ready();
  });
  after(() => executor.close());

  test("the attacker's call is charged; a running neighbour is collateral; a waiting one is retried and succeeds", async () => {
    const attacker = toolInTempDir(NATIVE_STALL_SOURCE, { timeoutMs: NATIVE_STALL_TIMEOUT_MS, memoryMb: 400 });
    // The innocent tool is inside a host call (started, running) when the worker is killed.
    const innocent = toolInTempDir(`export default async function run(input, ctx) { if (input.wait) await ctx.fs.stat("/mnt/x").catch(() => null); return { done: input }; }`, { timeoutMs: 30_000 });
    let hostCalled!: () => void;
    const inHost = new Promise<void>((r) => (hostCalled = r));
    const slowHost = recordingHost({ fs: () => (hostCalled(), new Promise((r) => setTimeout(() => r({ ok: true, value: null }), 20_000))) });
    const innocentCall = runTool(executor, innocent, { wait: true }, { host: slowHost });
    await inHost;
    const attack = runTool(executor, attacker);
    // Both isolates of the only worker are busy, one of them with this tool: this call waits in the worker.
    await new Promise((r) => setTimeout(r, 100));
    const waitingCall = runTool(executor, innocent, { n: 1 });
    const [a, i, w] = (await Promise.all([attack, innocentCall, waitingCall])) as [ExecuteOutcome, ExecuteOutcome, ExecuteOutcome];
    assert.equal(a.ok, false);
    assert.equal(!a.ok && a.error.code, "E_SANDBOX_CRASHED", JSON.stringify(a));
    assert.equal(!a.ok && a.collateral, undefined, "the culprit's crash counts against it");
    assert.match(!a.ok ? a.error.message : "", /could not be interrupted/);
    assert.equal(i.ok, false);
    assert.equal(!i.ok && i.error.code, "E_SANDBOX_CRASHED", JSON.stringify(i));
    assert.equal(!i.ok && i.collateral, true, "the running neighbour's failure is not its tool's fault");
    assert.deepEqual(w, { ok: true, output: { done: { n: 1 } }, outputBytes: '{"done":{"n":1}}'.length }, "the waiting neighbour ran on a fresh worker");
  });

  test("a tool that makes V8 give up (catastrophic out-of-memory) is charged; a running neighbour is collateral", async () => {
    // A Map grown past the heap limit: V8 reports a catastrophic OOM (onCatastrophicError), not a catchable error.
    const attacker = toolInTempDir(`export default async function run() { const m = new Map(); for (let i = 0; ; i++) m.set(i, i); }`, { timeoutMs: 30_000, memoryMb: 64 });
    const innocent = toolInTempDir(`export default async function run(input, ctx) { await ctx.fs.stat("/mnt/x").catch(() => null); return "done"; }`, { timeoutMs: 30_000 });
    let hostCalled!: () => void;
    const inHost = new Promise<void>((r) => (hostCalled = r));
    const slowHost = recordingHost({ fs: () => (hostCalled(), new Promise((r) => setTimeout(() => r({ ok: true, value: null }), 30_000))) });
    const innocentCall = runTool(executor, innocent, {}, { host: slowHost });
    await inHost;
    const [a, i] = (await Promise.all([runTool(executor, attacker), innocentCall])) as [ExecuteOutcome, ExecuteOutcome];
    assert.equal(!a.ok && a.error.code, "E_SANDBOX_CRASHED", JSON.stringify(a));
    assert.equal(!a.ok && a.collateral, undefined, "the culprit's crash counts against it");
    assert.match(!a.ok ? a.error.message : "", /out-of-memory/);
    assert.equal(!i.ok && i.error.code, "E_SANDBOX_CRASHED", JSON.stringify(i));
    assert.equal(!i.ok && i.collateral, true, "the running neighbour's failure is not its tool's fault");
  });

  test("code that crashed a worker is not sent to the next one: its calls fail at once for a while", async () => {
    // Were it in the module top level, every context prepared ahead would crash a worker again, charged to nobody.
    const bomb = toolInTempDir(`export default async function run() { const m = new Map(); for (let i = 0; ; i++) m.set(i, i); }`, { timeoutMs: 30_000, memoryMb: 64 });
    const first = await runTool(executor, bomb);
    assert.equal(!first.ok && first.error.code, "E_SANDBOX_CRASHED", JSON.stringify(first));
    for (let i = 0; i < 50 && executor.workerPids().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const pids = executor.workerPids();
    const t = Date.now();
    const again = await runTool(executor, bomb);
    assert.equal(!again.ok && again.error.code, "E_SANDBOX_CRASHED");
    assert.match(!again.ok ? again.error.message : "", /refused for \d+ s/);
    assert.ok(Date.now() - t < 200, "answered without running the code");
    assert.deepEqual(executor.workerPids(), pids, "no second worker was crashed");
  });

  test("a waiting call of the code that crashed the worker is not retried onto the next worker", async () => {
    const own = createIsolateExecutor({ workers: 1, isolatesPerWorker: 1 });
    await own.ready();
    try {
      const bomb = toolInTempDir(`export default async function run() { const m = new Map(); for (let i = 0; ; i++) m.set(i, i); }`, { timeoutMs: 30_000, memoryMb: 64 });
      const first = runTool(own, bomb);
      await new Promise((r) => setTimeout(r, 100));
      const queued = runTool(own, bomb); // the only isolate is busy: waits in the worker, not started
      const [a, b] = await Promise.all([first, queued]);
      assert.equal(!a.ok && a.error.code, "E_SANDBOX_CRASHED");
      assert.doesNotMatch(!a.ok ? a.error.message : "", /refused for/);
      assert.equal(!b.ok && b.error.code, "E_SANDBOX_CRASHED");
      assert.match(!b.ok ? b.error.message : "", /refused for \d+ s/, "refused instead of crashing the fresh worker too");
    } finally {
      await own.close();
    }
  });
});
