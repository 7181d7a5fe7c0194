/** What a tool sees as `ctx`: host calls relayed to the broker's ToolHost, and their refusals as coded errors. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import type { FetchRequest, FsOperation } from "../../../sandboxes/executor.js";
import { recordingHost, runTool, toolInTempDir } from "./tool-in-temp-dir.js";

describe("the ctx of an isolate tool", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor({ workers: 1 });
    await executor.ready();
  });
  after(() => executor.close());

  test("ctx.fetch relays method, headers and body to the host and exposes status, headers, text, json and bytes", async () => {
    const seen: FetchRequest[] = [];
    const host = recordingHost({
      fetch: async (request) => {
        seen.push(request);
        const body = Buffer.from(JSON.stringify({ city: "Zürich", tempC: 21.5 })); // the broker answers with a Buffer
        return { ok: true, value: { status: 201, statusText: "Created", url: request.url, headers: { "content-type": "application/json" }, body } };
      },
    });
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      const res = await ctx.fetch("https://api.example.com/w", { method: "POST", headers: { "x-key": 7 }, body: new Uint8Array([1, 2, 3]) });
      return { status: res.status, statusText: res.statusText, type: res.headers["content-type"], text: await res.text(), json: await res.json(), bytes: (await res.arrayBuffer()).byteLength };
    }`), {}, { host });
    assert.deepEqual(outcome.ok && outcome.output, {
      status: 201,
      statusText: "Created",
      type: "application/json",
      text: '{"city":"Zürich","tempC":21.5}',
      json: { city: "Zürich", tempC: 21.5 },
      bytes: 31,
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.url, "https://api.example.com/w");
    assert.equal(seen[0]!.method, "POST");
    assert.deepEqual(seen[0]!.headers, { "x-key": "7" });
    assert.deepEqual([...(seen[0]!.body as Uint8Array)], [1, 2, 3]);
  });

  test("a refused host call throws inside the tool with the refusal's code and message", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      const results = [];
      for (const attempt of [() => ctx.fetch("https://evil.example/"), () => ctx.fs.readFile("/mnt/data/a.txt", "utf8")]) {
        try { await attempt(); results.push("allowed"); } catch (e) { results.push({ code: e.code, message: e.message }); }
      }
      return results;
    }`));
    assert.deepEqual(outcome.ok && outcome.output, [
      { code: "E_CAPABILITY_DENIED", message: "network: no host granted" },
      { code: "E_CAPABILITY_DENIED", message: "filesystem: no volume granted" },
    ]);
  });

  test("an uncaught refusal ends the call with E_TOOL_FAILED carrying the refusal's message", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) { await ctx.fetch("https://evil.example/"); }`));
    assert.deepEqual(outcome, { ok: false, error: { code: "E_TOOL_FAILED", message: "network: no host granted" } });
  });

  test("ctx.fs operations reach the host as FsOperations with their values returned", async () => {
    const seen: FsOperation[] = [];
    const host = recordingHost({
      fs: async (operation) => {
        seen.push(operation);
        if (operation.op === "readFile") return { ok: true, value: operation.encoding === "utf8" ? "hello" : new Uint8Array([104, 105]) };
        if (operation.op === "readdir") return { ok: true, value: ["a.txt", "b"] };
        if (operation.op === "stat") return { ok: true, value: { type: "file", size: 5, mode: 0o644, mtimeMs: 1 } };
        return { ok: true, value: null };
      },
    });
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      const text = await ctx.fs.readFile("/mnt/data/a.txt", "utf8");
      const bytes = await ctx.fs.readFile("/mnt/data/a.txt");
      await ctx.fs.writeFile("/mnt/data/out.txt", "written");
      await ctx.fs.writeFile("/mnt/data/out.bin", new Uint8Array([0, 255]));
      await ctx.fs.mkdir("/mnt/data/sub", { recursive: true });
      await ctx.fs.rm("/mnt/data/sub", { recursive: true });
      return { text, bytes: Array.from(bytes), list: await ctx.fs.readdir("/mnt/data"), size: (await ctx.fs.stat("/mnt/data/a.txt")).size };
    }`), {}, { host });
    assert.deepEqual(outcome.ok && outcome.output, { text: "hello", bytes: [104, 105], list: ["a.txt", "b"], size: 5 });
    assert.deepEqual(seen.map((o) => o.op), ["readFile", "readFile", "writeFile", "writeFile", "mkdir", "rm", "readdir", "stat"]);
    assert.deepEqual(seen[2], { op: "writeFile", path: "/mnt/data/out.txt", data: "written" });
    assert.deepEqual(seen[3], { op: "writeFile", path: "/mnt/data/out.bin", data: new Uint8Array([0, 255]) });
    assert.deepEqual(seen[4], { op: "mkdir", path: "/mnt/data/sub", recursive: true });
  });

  test("ctx.env holds exactly the granted secrets and cannot be changed", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      try { ctx.env.API_KEY = "changed"; } catch {}
      return { key: ctx.env.API_KEY, names: Object.keys(ctx.env), frozen: Object.isFrozen(ctx.env) };
    }`), {}, { env: { API_KEY: "s3cret" } });
    assert.deepEqual(outcome.ok && outcome.output, { key: "s3cret", names: ["API_KEY"], frozen: true });
  });

  test("ctx.log and ctx.progress reach the host; an unknown level becomes info", async () => {
    const host = recordingHost();
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      ctx.log("warning", "careful"); ctx.log("shout", { toString() { return "as text"; } }); ctx.progress(1, 2); ctx.progress(2);
      return { signalAborted: ctx.signal.aborted };
    }`), {}, { host });
    assert.deepEqual(outcome.ok && outcome.output, { signalAborted: false });
    assert.deepEqual(host.logs, [["warning", "careful"], ["info", "as text"]]);
    assert.deepEqual(host.progressed, [[1, 2], [2, undefined]]);
  });

  test("ctx.log lines below the client's logging level are dropped in the isolate, the others arrive in order (#14)", async () => {
    const tool = toolInTempDir(`export default async function run(input, ctx) {
      for (const level of ["debug", "info", "warning", "error", "shout", "__proto__"]) ctx.log(level, level);
      ctx.progress(1, 1);
      return "logged";
    }`);
    const at = async (logLevel?: "debug" | "notice" | "warning" | "error") => {
      const host = { ...recordingHost(), ...(logLevel ? { logLevel } : {}) };
      const outcome = await runTool(executor, tool, {}, { host });
      assert.deepEqual(outcome.ok && outcome.output, "logged");
      assert.deepEqual(host.progressed, [[1, 1]], "progress is not a log line: never filtered");
      return host.logs.map(([level]) => level);
    };
    assert.deepEqual(await at(), ["debug", "info", "warning", "error", "info", "info"]);
    assert.deepEqual(await at("debug"), ["debug", "info", "warning", "error", "info", "info"]);
    // An unknown level counts as info, as the host delivers it.
    assert.deepEqual(await at("notice"), ["warning", "error"]);
    assert.deepEqual(await at("warning"), ["warning", "error"]);
    assert.deepEqual(await at("error"), ["error"]);
  });

  test("ctx.fs data that is neither text nor bytes reaches the host as text, never as an object", async () => {
    const host = recordingHost();
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      try { await ctx.fs.writeFile("/mnt/data/x", { not: "data" }); return "allowed"; } catch (e) { return e.code + ": " + e.message; }
    }`), {}, { host });
    // An object body is turned into text by the shim; the host sees a string, never an object.
    assert.equal(outcome.ok, true);
    assert.deepEqual(host.requests, [{ op: "writeFile", path: "/mnt/data/x", data: "[object Object]" }]);
  });

  test("a tool cannot have more than 32 host calls in flight at once", async () => {
    let reached = 0;
    const host = recordingHost({ fetch: () => (reached++, new Promise(() => undefined)) });
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      const calls = Array.from({ length: 40 }, () => ctx.fetch("https://api.example.com/"));
      const beyondTheCap = await Promise.allSettled(calls.slice(32));
      return { refusedCodes: [...new Set(beyondTheCap.map((r) => r.reason && r.reason.code))], refusedCount: beyondTheCap.length };
    }`), {}, { host });
    assert.deepEqual(outcome.ok && outcome.output, { refusedCodes: ["E_BUSY"], refusedCount: 8 });
    assert.equal(reached, 32);
  });
});
