/** How a tool's return value or failure becomes the call's outcome. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { runTool, toolInTempDir } from "./tool-in-temp-dir.js";

describe("isolate call outcomes", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor({ workers: 1 });
    await executor.ready();
  });
  after(() => executor.close());

  for (const [what, expression] of [
    ["undefined", "undefined"],
    ["a function", "() => 1"],
    ["a BigInt", "{ n: 10n }"],
    ["a cycle", "(() => { const a = {}; a.self = a; return a; })()"],
  ] as const) {
    test(`returning ${what} ends with E_TOOL_FAILED saying the output is not JSON`, async () => {
      const outcome = await runTool(executor, toolInTempDir(`export default async function run() { return ${expression}; }`));
      assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_TOOL_FAILED");
      assert.match(outcome.ok ? "" : outcome.error.message, /not JSON/);
    });
  }

  test("output over outputBytes in UTF-8 (though shorter in characters) ends with E_OUTPUT_TOO_LARGE", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run() { return "é".repeat(2100); }`, { outputBytes: 4096 }));
    assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_OUTPUT_TOO_LARGE");
    const fits = await runTool(executor, toolInTempDir(`export default async function run() { return "é".repeat(2000); }`, { outputBytes: 4096 }));
    assert.deepEqual(fits, { ok: true, output: "é".repeat(2000), outputBytes: 4002 });
  });

  test("a thrown non-Error value becomes the message; no host stack leaks", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run() { throw "plain string"; }`));
    assert.deepEqual(outcome, { ok: false, error: { code: "E_TOOL_FAILED", message: "plain string" } });
    const withStack = await runTool(executor, toolInTempDir(`export default async function run() { throw new TypeError("bad"); }`));
    assert.deepEqual(withStack, { ok: false, error: { code: "E_TOOL_FAILED", message: "bad" } });
  });

  test("a module without a default function export ends with E_TOOL_FAILED saying so", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export const run = 1;`));
    assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_TOOL_FAILED");
    assert.match(outcome.ok ? "" : outcome.error.message, /export default/);
  });

  test("a syntax error in the tool ends with E_TOOL_FAILED", async () => {
    const outcome = await runTool(executor, toolInTempDir(`export default async function run( {`));
    assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_TOOL_FAILED");
    assert.match(outcome.ok ? "" : outcome.error.message, /SyntaxError|Unexpected/);
  });

  test("a tool is not a tool of another runtime", async () => {
    const tool = { ...toolInTempDir("export default async function run() { return 1; }"), runtime: "container" as const, image: "warden-tools/none:1" };
    assert.equal((await runTool(executor, tool)).ok ? "ok" : "refused", "refused");
  });

  test("prepare() warms the tool and never throws, even for a tool folder that cannot be read", async () => {
    const tool = toolInTempDir("export default async function run(input) { return input.n * 2; }");
    await executor.prepare(tool);
    await executor.prepare({ ...tool, name: "missing_tool", dir: "/nonexistent/warden" });
    assert.deepEqual(await runTool(executor, tool, { n: 21 }), { ok: true, output: 42, outputBytes: 2 });
  });

  test("a worker killed between calls is replaced and the next call works", async () => {
    const tool = toolInTempDir("export default async function run() { return 'fine'; }");
    const [pid] = executor.workerPids();
    process.kill(pid!, "SIGKILL");
    for (let i = 0; i < 100 && executor.workerPids().includes(pid!); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await runTool(executor, tool), { ok: true, output: "fine", outputBytes: 6 });
    assert.notEqual(executor.workerPids()[0], pid);
  });
});
