/**
 * Issue #16 item 4, through the broker: with quarantine.crashes 1, a tool
 * whose uninterruptible native operation gets the shared isolate worker
 * killed is quarantined — and the unrelated tool whose call died with that
 * worker (a collateral outcome) is not.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { createLogger } from "../../src/logger.js";
import { openRuntime } from "../../src/runtime/open.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";
import { NATIVE_STALL_SOURCE, NATIVE_STALL_TIMEOUT_MS } from "../sandboxes/isolate/tool-in-temp-dir.js";

test("a worker killed for one tool's call quarantines that tool, never the neighbour that died with it", async () => {
  const ws = makeWorkspace({
    tools: {
      attacker: { manifest: isolateManifest("attacker", { limits: { timeoutMs: NATIVE_STALL_TIMEOUT_MS, memoryMb: 400, outputBytes: 65536 } }), files: { "index.js": NATIVE_STALL_SOURCE } },
      innocent: {
        manifest: isolateManifest("innocent", { limits: { timeoutMs: 30000, memoryMb: 64, outputBytes: 65536 } }),
        files: { "index.js": "export default async function run(input) { const t = Date.now(); while (Date.now() - t < (input.ms ?? 0)) {} return { ran: input.ms ?? 0 }; }\n" },
      },
    },
    config: { isolate: { workers: 1 }, quarantine: { crashes: 1, windowSec: 60 } },
  });
  await approveAll(ws);
  const runtime = await openRuntime(ws.configPath, createLogger({ level: "silent" }));
  try {
    const call = (tool: string, input: unknown) => runtime.broker.call(tool, input, { actor: "test", signal: new AbortController().signal });
    const innocent = call("innocent", { ms: 12000 }); // running on the only worker when it is killed
    await new Promise((r) => setTimeout(r, 200));
    const attack = await call("attacker", {});
    assert.equal(!attack.ok && attack.error.code, "E_SANDBOX_CRASHED", JSON.stringify(attack));
    const neighbour = await innocent;
    assert.equal(!neighbour.ok && neighbour.error.code, "E_SANDBOX_CRASHED", JSON.stringify(neighbour));
    assert.deepEqual(JSON.parse(readFileSync(ws.configPath, "utf8")).disabled, ["attacker"], "only the culprit is written into disabled");
    const again = await call("innocent", { ms: 0 });
    assert.deepEqual(again.ok && again.output, { ran: 0 }, "the innocent tool still serves");
    const blocked = await call("attacker", {});
    assert.equal(!blocked.ok && blocked.error.code, "E_DISABLED");
  } finally {
    await runtime.close();
  }
});
