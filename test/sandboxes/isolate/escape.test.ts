/**
 * Escape attempts from inside an isolate. Each is refused or contained, and
 * the executor keeps serving afterwards.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { ECHO_SOURCE, recordingHost, runTool, toolInTempDir } from "./tool-in-temp-dir.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("isolate escape attempts", () => {
  let executor: IsolateExecutor;
  const echo = toolInTempDir(ECHO_SOURCE);

  before(async () => {
    executor = createIsolateExecutor({ workers: 1 });
    await executor.ready();
  });
  after(() => executor.close());

  async function outputOf(source: string, input: unknown = {}): Promise<unknown> {
    const outcome = await runTool(executor, toolInTempDir(source), input);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    return outcome.ok ? outcome.output : undefined;
  }

  async function assertStillServesEcho(): Promise<void> {
    assert.deepEqual(await runTool(executor, echo, { still: "serving" }), { ok: true, output: { echo: { still: "serving" } }, outputBytes: '{"echo":{"still":"serving"}}'.length });
  }

  test("process, require and Node globals do not exist inside the isolate", async () => {
    const output = await outputOf(`export default async function run() {
      return [typeof process, typeof require, typeof Buffer, typeof module, typeof globalThis.process, typeof fetch, typeof setTimeout, typeof setImmediate, typeof queueMicrotask];
    }`);
    assert.deepEqual(output, Array(9).fill("undefined"));
  });

  test("the host bridge is not reachable from tool code, only through ctx", async () => {
    const output = await outputOf(`export default async function run() {
      return [typeof globalThis.__wardenHost, Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith("__warden"))];
    }`);
    assert.deepEqual(output, ["undefined", []]);
  });

  test("constructor.constructor('return process')() reaches only the isolate's own global", async () => {
    const output = await outputOf(`export default async function run(input, ctx) {
      const viaThis = (function () { return this; }).constructor.constructor("return typeof process")();
      const viaCtx = ctx.log.constructor("return [typeof process, typeof require, Object.keys(globalThis).join()]")();
      const viaInput = input.constructor.constructor("return typeof process")();
      return { viaThis, viaCtx, viaInput };
    }`);
    assert.deepEqual(output, { viaThis: "undefined", viaCtx: ["undefined", "undefined", ""], viaInput: "undefined" });
  });

  test("import('fs') and import('node:fs') are refused at run time", async () => {
    const output = (await outputOf(`export default async function run() {
      const tries = [];
      for (const name of ["fs", "node:fs", "node:child_process", "/etc/passwd"]) {
        try { const m = await import(name); tries.push("imported " + Object.keys(m).length); } catch (e) { tries.push("refused"); }
      }
      return tries;
    }`)) as string[];
    assert.deepEqual(output, ["refused", "refused", "refused", "refused"]);
  });

  test("a static import of a Node built-in is refused with E_TOOL_FAILED", async () => {
    const outcome = await runTool(executor, toolInTempDir(`import { readFileSync } from "node:fs"; export default async function run() { return readFileSync("/etc/passwd", "utf8"); }`));
    assert.equal(outcome.ok, false);
    if (outcome.ok) return;
    assert.equal(outcome.error.code, "E_TOOL_FAILED");
    assert.match(outcome.error.message, /import "node:fs" refused/);
    await assertStillServesEcho();
  });

  test("Object.prototype pollution inside the isolate is not visible on host objects", async () => {
    const input = JSON.parse('{"__proto__": {"injected": true}, "name": "x"}');
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input) {
      Object.prototype.polluted = 1;
      input.__proto__.alsoPolluted = 1;
      Object.getPrototypeOf(input).viaGetPrototypeOf = 1;
      return { sawInjected: input.__proto__.injected === true || input.injected === true };
    }`), input);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    const probe: Record<string, unknown> = {};
    assert.equal(probe.polluted, undefined);
    assert.equal(probe.alsoPolluted, undefined);
    assert.equal(probe.viaGetPrototypeOf, undefined);
    assert.equal(Object.getPrototypeOf(input), Object.prototype, "the host's input object kept its prototype");
  });

  test("an output with a __proto__ key does not pollute the host after JSON.parse and spread", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run() {
      return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "ok": 1}');
    }`));
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    if (!outcome.ok) return;
    const spread = { ...(outcome.output as object) } as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(outcome.output), Object.prototype);
    assert.equal(Object.getPrototypeOf(spread), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(spread.ok, 1);
  });

  test("SharedArrayBuffer and Atomics are absent, so Atomics.wait cannot hang the isolate thread", async () => {
    const output = await outputOf(`export default async function run() {
      let wait;
      try { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); wait = "waited"; } catch (e) { wait = e.name; }
      return { sab: typeof SharedArrayBuffer, atomics: typeof Atomics, wait };
    }`);
    assert.deepEqual(output, { sab: "undefined", atomics: "undefined", wait: "ReferenceError" });
    await assertStillServesEcho();
  });

  test("WebAssembly is absent, so wasm memory cannot grow past the heap budget", async () => {
    const output = await outputOf(`export default async function run() {
      let grown;
      try { const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); m.grow(16384); grown = m.buffer.byteLength; } catch (e) { grown = e.name; }
      return { wasm: typeof WebAssembly, grown };
    }`);
    assert.deepEqual(output, { wasm: "undefined", grown: "ReferenceError" });
  });

  test("ArrayBuffer growth beyond the budget ends with E_MEMORY", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run() {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(8 * 1024 * 1024).fill(1));
    }`, { timeoutMs: 10_000 }));
    assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_MEMORY");
    await assertStillServesEcho();
  });

  test("a then-able returned is resolved inside the isolate; the host gets plain JSON", async () => {
    const output = await outputOf(`export default async function run() {
      return { then(resolve) { resolve({ resolvedInside: true, then: "not a function any more" }); } };
    }`);
    assert.deepEqual(output, { resolvedInside: true, then: "not a function any more" });
  });

  test("a then-able that never settles is contained by the deadline", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run() { return { then() {} }; }`, { timeoutMs: 300 }));
    assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_TIMEOUT");
    await assertStillServesEcho();
  });

  test("no timers exist, and a microtask loop left running after return is stopped by the deadline", async () => {
    const output = await outputOf(`export default async function run() {
      return [typeof setTimeout, typeof setInterval, typeof FinalizationRegistry];
    }`);
    assert.deepEqual(output, ["undefined", "undefined", "undefined"]);
    const outcome = await runTool(executor, toolInTempDir(`export default async function run() {
      (async () => { for (;;) await null; })();
      return { returned: true };
    }`, { timeoutMs: 300 }));
    assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_TIMEOUT");
    await assertStillServesEcho();
  });

  test("ctx.log after the call has ended has no effect", async () => {
    let callEnded!: () => void;
    const ended = new Promise<void>((resolve) => (callEnded = resolve));
    const host = recordingHost({
      // Answers only once the outcome is out, so the tool's .then() runs strictly after its call.
      fetch: async () => {
        await ended;
        return { ok: true, value: { status: 200, statusText: "OK", url: "https://api.example.com/", headers: {}, body: new Uint8Array() } };
      },
    });
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      ctx.fetch("https://api.example.com/").then(() => { ctx.log("info", "late"); ctx.progress(9, 9); ctx.fs.writeFile("/mnt/x/late", "late"); });
      ctx.log("info", "in time");
      return { returned: true };
    }`), {}, { host });
    callEnded();
    assert.deepEqual(outcome, { ok: true, output: { returned: true }, outputBytes: 17 });
    await sleep(500);
    assert.deepEqual(host.logs, [["info", "in time"]]);
    assert.deepEqual(host.progressed, []);
    assert.deepEqual(host.requests, [], "the late writeFile never reached the host");
    await assertStillServesEcho();
  });

  test("a tool flooding ctx.log reaches the host with a bounded number of bounded lines", async () => {
    const host = recordingHost();
    const outcome = await runTool(executor, toolInTempDir(`export default async function run(input, ctx) {
      const big = "y".repeat(100000);
      for (let i = 0; i < 20000; i++) ctx.log("info", i === 0 ? big : "line " + i);
      return { logged: 20000 };
    }`, { timeoutMs: 10_000 }), {}, { host });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    await sleep(200);
    assert.ok(host.logs.length <= 1001, `got ${host.logs.length} log lines`);
    assert.ok(host.logs[0]![1].length <= 8193, "a huge line is cut");
    assert.match(host.logs.at(-1)![1], /dropped/);
  });

  test("top-level code that never ends is stopped and the executor keeps serving", async () => {
    const outcome = await runTool(executor, toolInTempDir(`for (;;) {}\nexport default async function run() { return 1; }`, { timeoutMs: 10_000 }));
    assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_TIMEOUT");
    // Stopped by the worker's own top-level budget, not only by the broker's deadline and watchdog.
    assert.match(outcome.ok ? "" : outcome.error.message, /top-level code/);
    await assertStillServesEcho();
  });
});
