/**
 * Issue #14: compiled code is cached (V8 code cache per digest, contexts prepared ahead), module INSTANCES never
 * are. A tool's module-level state — its own top-level variables, an imported module's exports, globals — must
 * start afresh for every call, or one caller's data leaks into the next caller's call.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { runTool, toolInTempDir } from "./tool-in-temp-dir.js";

const STATEFUL = {
  "index.js": `import { bump, remembered } from "./lib/state.js";
let calls = 0;
const seen = [];
globalThis.__topLevelRuns = (globalThis.__topLevelRuns ?? 0) + 1;
export default async function run(input) {
  calls += 1;
  seen.push(input.secret);
  return { calls, imported: bump(input.secret), previous: remembered.slice(0, -1), seen, topLevelRuns: globalThis.__topLevelRuns, proto: Array.prototype.__leak ?? null };
}
Array.prototype.__leak = Array.prototype.__leak ?? "set at module scope";`,
  "lib/state.js": `let count = 0;
export const remembered = [];
export function bump(secret) { remembered.push(secret); return ++count; }`,
};

describe("a tool's module-level state never survives into the next call", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor({ workers: 1, isolatesPerWorker: 2 });
    await executor.ready();
  });
  after(() => executor.close());

  test("250 calls in a row (code cache warm, isolates recycled every 100 contexts) and 16 at once each see a fresh instance", async () => {
    const tool = toolInTempDir(STATEFUL);
    await executor.prepare(tool);
    const expected = (secret: string) => ({ calls: 1, imported: 1, previous: [], seen: [secret], topLevelRuns: 1, proto: "set at module scope" });
    for (let i = 0; i < 250; i++) {
      const secret = `caller-${i}`;
      const outcome = await runTool(executor, tool, { secret });
      assert.ok(outcome.ok, `call ${i}: ${JSON.stringify(outcome)}`);
      assert.deepEqual(outcome.output, expected(secret), `call ${i} saw state of an earlier call`);
    }
    const together = await Promise.all(Array.from({ length: 16 }, (_, i) => runTool(executor, tool, { secret: `parallel-${i}` })));
    together.forEach((outcome, i) => {
      assert.ok(outcome.ok, JSON.stringify(outcome));
      assert.deepEqual(outcome.output, expected(`parallel-${i}`));
    });
  });
});
