import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { runCli } from "../../src/cli/main.js";
import { QuarantineCounter } from "../../src/incident/quarantine.js";
import { createLogger } from "../../src/logger.js";
import { openRuntime } from "../../src/runtime/open.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";

test("the counter trips at the threshold within the window, not outside it", () => {
  const q = new QuarantineCounter({ denials: 3, windowSec: 10 });
  assert.equal(q.record("t", "E_CAPABILITY_DENIED", "a", "x", 0), null);
  assert.equal(q.record("t", "E_CAPABILITY_DENIED", "b", "x", 1000), null);
  assert.equal(q.record("t", "E_CAPABILITY_DENIED", "c", "x", 20_000), null, "the first two fell out of the window");
  assert.equal(q.record("t", "E_TOOL_FAILED", "d", "x", 20_001), null, "other failures do not count");
  assert.equal(q.record("t", "E_CAPABILITY_DENIED", "e", "y", 20_002), null, "another actor's denials are counted apart");
  const v = q.record("t", "E_CAPABILITY_DENIED", "f", "x", 20_003);
  assert.equal(v, null, "x has 2 in the window");
  const w = q.record("t", "E_CAPABILITY_DENIED", "g", "x", 20_004);
  assert.deepEqual(w?.callIds, ["c", "f", "g"]);
  assert.deepEqual(w?.actors, ["x"]);
});

test("after N denials a tool is quarantined: webhook event with the owner, E_DISABLED until warden enable", async () => {
  const events: Array<Record<string, unknown>> = [];
  const hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += String(d)));
    req.on("end", () => {
      events.push(JSON.parse(body));
      res.end("ok");
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
  const ws = makeWorkspace({
    tools: {
      prober: {
        manifest: isolateManifest("prober", { owner: "security@example.org" }),
        files: { "index.js": "export default async function run(i, ctx) { await ctx.fetch('http://169.254.169.254/'); return {}; }\n" },
      },
    },
    config: { quarantine: { denials: 3, windowSec: 60 }, alerts: { webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts` } },
  });
  await approveAll(ws);
  const runtime = await openRuntime(ws.configPath, createLogger({ level: "silent" }));
  const live = runtime.watch();
  try {
    const call = () => runtime.broker.call("prober", {}, { actor: "test", signal: new AbortController().signal });
    for (let i = 0; i < 3; i++) assert.equal((await (call()).then((r) => !r.ok && r.error.code)), "E_CAPABILITY_DENIED");
    const after = await call();
    assert.equal(!after.ok && after.error.code, "E_DISABLED");
    await runtime.alerter.drain();
    const q = events.find((e) => e.kind === "quarantine")!;
    assert.equal(q.tool, "prober");
    assert.equal(q.owner, "security@example.org");
    assert.equal((q.callIds as string[]).length, 3);
    assert.deepEqual(JSON.parse(readFileSync(ws.configPath, "utf8")).quarantined, { prober: ["test"] }, "persisted for the actor that drove it (SPEC §14)");
    let out = "";
    assert.equal(await runCli(["enable", "prober", "--config", ws.configPath], { stdout: (t) => (out += t), stderr: (t) => (out += t) }), 0, out);
    assert.equal(await live.reload(), true);
    const back = await call();
    assert.equal(!back.ok && back.error.code, "E_CAPABILITY_DENIED", "enabled again (and still refused the metadata endpoint)");
  } finally {
    await runtime.close();
    hook.close();
  }
});
