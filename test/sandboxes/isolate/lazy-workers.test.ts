/**
 * #14: only the first isolate worker starts with the executor (each costs ~50-100 MB); the others start on the
 * first concurrent demand, so a tenant's slow calls that fill one worker never stall everybody else's calls.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import type { HostResult } from "../../../sandboxes/executor.js";
import { ECHO_SOURCE, recordingHost, runTool, toolInTempDir } from "./tool-in-temp-dir.js";
import { waitFor } from "../../helpers/wait.js";

const HELD_SOURCE = `export default async function run(input, ctx) {
  try { await ctx.fetch("http://held.invalid/"); } catch {}
  return "released";
}`;

/** A host whose fetch answers only when the test says so: the call keeps its isolate busy meanwhile. */
function heldHost() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const host = recordingHost({
    fetch: async (): Promise<HostResult<never>> => {
      host.requests.push("fetch");
      await released;
      return { ok: false, error: { code: "E_CAPABILITY_DENIED", message: "network: no host granted" } };
    },
  });
  return { host, release };
}

describe("isolate workers start on demand", () => {
  let executor: IsolateExecutor | undefined;
  afterEach(async () => {
    await executor?.close();
    executor = undefined;
  });

  test("one call at a time runs on one worker; a second worker starts when its isolates are all busy and serves the next call", async () => {
    executor = createIsolateExecutor({ workers: 2, isolatesPerWorker: 1 });
    await executor.ready();
    const echo = toolInTempDir(ECHO_SOURCE);
    for (let i = 0; i < 5; i++) assert.deepEqual(await runTool(executor, echo, { i }), { ok: true, output: { echo: { i } }, outputBytes: 16 });
    assert.equal(executor.workerPids().length, 1, "serial calls never start a second worker");

    const held = heldHost();
    const tool = toolInTempDir(HELD_SOURCE);
    const slow = runTool(executor, tool, {}, { host: held.host });
    await waitFor(() => held.host.requests.length === 1, "the held call to be running");
    // The only isolate of the first worker is busy: the same tool's next call (its fetch answered at once) is
    // served by a second worker, not queued behind the held one.
    const quick = runTool(executor, tool, {}, { host: recordingHost() });
    const first = await Promise.race([quick.then(() => "quick"), new Promise((resolve) => setTimeout(resolve, 8_000, "timeout"))]);
    assert.equal(first, "quick", "the quick call waited behind the held one");
    assert.deepEqual(await quick, { ok: true, output: "released", outputBytes: 10 });
    assert.equal(executor.workerPids().length, 2);
    held.release();
    assert.deepEqual(await slow, { ok: true, output: "released", outputBytes: 10 });
  });

  describe("with workers that take 1.5 s to start", () => {
    before(() => {
      process.env.WARDEN_TEST_WORKER_START_DELAY_MS = "1500";
    });
    after(() => {
      delete process.env.WARDEN_TEST_WORKER_START_DELAY_MS;
    });

    test("a call of another tool takes the busy worker's extra isolate instead of waiting for a worker to start", async () => {
      executor = createIsolateExecutor({ workers: 2, isolatesPerWorker: 1 });
      await executor.ready();
      const held = heldHost();
      const slow = runTool(executor, toolInTempDir(HELD_SOURCE), {}, { host: held.host });
      await waitFor(() => held.host.requests.length === 1, "the held call to be running");
      // The worker adds an isolate for a tool none of its isolates runs (so no tool waits behind another's code).
      const started = performance.now();
      assert.deepEqual(await runTool(executor, toolInTempDir(ECHO_SOURCE), { n: 2 }), { ok: true, output: { echo: { n: 2 } }, outputBytes: 16 });
      const took = performance.now() - started;
      assert.ok(took < 1_200, `the call took ${Math.round(took)} ms: it waited for a worker to start`);
      held.release();
      await slow;
    });

    test("a call waiting for a worker that is still starting is not charged the start-up against its timeout", async () => {
      executor = createIsolateExecutor({ workers: 2, isolatesPerWorker: 1 });
      await executor.ready();
      const a = heldHost();
      const b = heldHost();
      // Two held calls of two tools fill the first worker (its isolate and the extra one it adds for another
      // tool), which starts the second at once; this call must wait for it (far longer than 50 ms).
      const slowA = runTool(executor, toolInTempDir(HELD_SOURCE), {}, { host: a.host });
      const slowB = runTool(executor, toolInTempDir(HELD_SOURCE), {}, { host: b.host });
      const started = performance.now();
      const quick = await runTool(executor, toolInTempDir(ECHO_SOURCE, { timeoutMs: 50 }), { n: 1 });
      const waited = performance.now() - started;
      assert.deepEqual(quick, { ok: true, output: { echo: { n: 1 } }, outputBytes: 16 }, `after ${Math.round(waited)} ms`);
      assert.ok(waited > 50, `the wait (${Math.round(waited)} ms) was longer than the call's timeout, so the start-up was not charged`);
      assert.equal(executor.workerPids().length, 2);
      a.release();
      b.release();
      await Promise.all([slowA, slowB]);
    });
  });
});
