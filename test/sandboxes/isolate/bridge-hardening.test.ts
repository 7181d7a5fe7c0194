/**
 * Issue #16 items 5-8: what a tool passes to ctx is bounded inside the isolate,
 * before it is copied out, and nothing the tool changes in its realm alters how
 * the shim talks to the host.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { FsOperation, HostResult, FetchRequest } from "../../../sandboxes/executor.js";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { ECHO_SOURCE, recordingHost, runTool, toolInTempDir } from "./tool-in-temp-dir.js";

const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const denied = { ok: false as const, error: { code: "E_CAPABILITY_DENIED" as const, message: "filesystem: refused by the test host" } };

describe("the ctx bridge is bounded and cannot be re-configured by the tool", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor({ workers: 1 });
    await executor.ready();
  });
  after(() => executor.close());

  test("item 5: options poisoned on Object.prototype (timeout, reference, externalCopy) do not reach the bridge, and no host stack reaches the tool", async () => {
    const tool = toolInTempDir(`export default async function run(input, ctx) {
      // isolated-vm reads its options through the prototype chain: each of these changed how the bridge ran
      // (measured: "reference"/"externalCopy" made every ctx call throw; the review saw "timeout" run it under 1 ms).
      Object.prototype.timeout = 1; Object.prototype.reference = true; Object.prototype.externalCopy = true; Object.prototype.promise = false;
      ctx.log("info", "still logging");
      try { await ctx.fs.stat("/mnt/ws/x"); return { ok: true }; }
      catch (e) { return { code: e.code, message: e.message, stack: String(e.stack) }; }
    }`);
    const host = recordingHost({ fs: async (): Promise<HostResult<null>> => (await new Promise((r) => setTimeout(r, 100)), denied) });
    const outcome = await runTool(executor, tool, {}, { host });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    const out = (outcome.ok ? outcome.output : {}) as { code: string; message: string; stack: string };
    assert.equal(out.code, "E_CAPABILITY_DENIED", `the host's answer, not a bridge timeout: ${out.message}`);
    assert.deepEqual(host.logs, [["info", "still logging"]]);
    assert.doesNotMatch(out.stack, /dist\/|worker\.js|node:|node_modules|\/work\//, "no host path in the stack the tool sees");
  });

  test("item 6: ctx.log of 8 MB messages is cut inside the isolate (the worker never copies them)", async () => {
    const own = createIsolateExecutor({ workers: 1 });
    await own.ready();
    try {
      const pid = own.workerPids()[0]!;
      const before = peakRssMb(pid);
      const tool = toolInTempDir(`export default async function run(input, ctx) {
        const big = "A".repeat(8 << 20);
        for (let i = 0; i < 200; i++) ctx.log("info", big);
        return "logged";
      }`, { memoryMb: 64, timeoutMs: 20_000 });
      const host = recordingHost();
      const outcome = await runTool(own, tool, {}, { host });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(host.logs.length, 200);
      assert.ok(host.logs.every(([, m]) => m.length <= 8193));
      // Before the fix every message was copied whole: 200 × 8 MB through the worker.
      assert.ok(peakRssMb(pid) - before < 250, `worker peak RSS grew by ${Math.round(peakRssMb(pid) - before)} MB`);
    } finally {
      await own.close();
    }
  });

  test("item 7: host-call arguments are bounded before they leave the isolate", async () => {
    const seen: unknown[] = [];
    const host = recordingHost({
      fs: async (op: FsOperation) => (seen.push(op), denied),
      fetch: async (req: FetchRequest) => (seen.push(req), { ok: false, error: { code: "E_CAPABILITY_DENIED", message: "network: refused by the test host" } }),
    });
    const tool = toolInTempDir(`export default async function run(input, ctx) {
      const huge = "A".repeat(8 << 20);
      const codes = async (p) => p.then(() => "ok", (e) => e.code);
      const stats = await Promise.all(Array.from({ length: 32 }, () => codes(ctx.fs.stat("/mnt/ws/" + huge))));
      return {
        stats,
        url: await codes(ctx.fetch("https://example.com/?" + huge)),
        headerSize: await codes(ctx.fetch("https://example.com/", { headers: { "x-big": huge } })),
        headerCount: await codes(ctx.fetch("https://example.com/", { headers: Object.fromEntries(Array.from({ length: 500 }, (_, i) => ["x-h" + i, "v"])) })),
        body: await codes(ctx.fetch("https://example.com/", { method: "POST", body: huge })),
        bytes: await codes(ctx.fetch("https://example.com/", { method: "POST", body: new Uint8Array(2 << 20) })),
        method: await codes(ctx.fetch("https://example.com/", { method: huge })),
        write: await codes(ctx.fs.writeFile("/mnt/ws/a", "B".repeat(20 << 20))),
      };
    }`, { memoryMb: 1024, timeoutMs: 20_000 });
    const outcome = await runTool(executor, tool, {}, { host });
    assert.equal(outcome.ok, true, JSON.stringify(outcome).slice(0, 500));
    const out = (outcome.ok ? outcome.output : {}) as Record<string, unknown>;
    assert.deepEqual(out.stats, Array(32).fill("E_CAPABILITY_DENIED"));
    assert.equal(out.url, "E_TOOL_FAILED");
    assert.equal(out.headerSize, "E_CAPABILITY_DENIED");
    assert.equal(out.headerCount, "E_CAPABILITY_DENIED");
    assert.equal(out.body, "E_CAPABILITY_DENIED");
    assert.equal(out.bytes, "E_CAPABILITY_DENIED");
    assert.equal(out.write, "E_CAPABILITY_DENIED");
    // The host saw the paths cut to one character over its limit (so it still refuses and audits them) and the
    // over-long method cut; nothing of megabytes.
    assert.ok(JSON.stringify(seen).length < 40 * 4200, `the host received ${JSON.stringify(seen).length} characters`);
    const paths = seen.filter((r): r is FsOperation => typeof (r as FsOperation).op === "string").map((r) => r.path.length);
    assert.deepEqual(paths, Array(32).fill(4097));
  });

  test("item 8: a burst of ctx.log and un-awaited host calls cannot delay the abort until the worker is killed", async () => {
    const pids = executor.workerPids();
    const tool = toolInTempDir(`export default async function run(input, ctx) {
      for (let i = 0; i < 980000; i++) ctx.log("info", "x");
      for (let i = 0; i < 200000; i++) ctx.fs.stat("/mnt/ws/x").catch(() => null);
      while (true) {}
    }`, { timeoutMs: 1_000, memoryMb: 128 });
    const outcome = await runTool(executor, tool);
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.error.code, "E_TIMEOUT", JSON.stringify(outcome));
    assert.deepEqual(executor.workerPids(), pids, "the worker tore the call down in time: it was not killed");
    assert.equal((await runTool(executor, toolInTempDir(ECHO_SOURCE), { after: 1 })).ok, true);
  });
});
