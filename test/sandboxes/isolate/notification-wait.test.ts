/**
 * ctx.log/ctx.progress are fire-and-forget inside the isolate: the last ones can still be on their way to the
 * worker's main thread when the result is. The worker waits for the count the tool reported (woken by each
 * notification, no polling since #14) so that a call's final progress is never lost or reordered after its answer.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { recordingHost, runTool, toolInTempDir } from "./tool-in-temp-dir.js";

describe("notifications sent before a tool returns arrive before its answer", () => {
  let executor: IsolateExecutor;
  before(async () => {
    executor = createIsolateExecutor({ workers: 1, isolatesPerWorker: 2 });
    await executor.ready();
  });
  after(() => executor.close());

  test("300 progress notifications right before return: all at the host, in order, when the outcome resolves", async () => {
    const tool = toolInTempDir(`export default async function run(input, ctx) {
      for (let i = 1; i <= 300; i++) ctx.progress(i, 300);
      return { sent: 300 };
    }`);
    for (let round = 0; round < 10; round++) {
      const host = recordingHost();
      const outcome = await runTool(executor, tool, {}, { host });
      assert.deepEqual(outcome.ok && outcome.output, { sent: 300 });
      assert.deepEqual(host.progressed.map(([done]) => done), Array.from({ length: 300 }, (_, i) => i + 1), `round ${round}: ${host.progressed.length} arrived before the answer`);
    }
  });
});
