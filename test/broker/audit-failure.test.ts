import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../../src/logger.js";
import { openRuntime } from "../../src/runtime/open.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";

test("when the audit log cannot be written, the result is withheld and every later call is refused before it runs", async () => {
  let hits = 0;
  const api = createServer((_req, res) => {
    hits++;
    res.end("{}");
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", () => r()));
  const port = (api.address() as AddressInfo).port;
  const ws = makeWorkspace({
    tools: {
      pinger: {
        manifest: isolateManifest("pinger", { capabilities: { network: { allow: [`http://127.0.0.1:${port}`] } } }),
        files: { "index.js": `export default async function run(i, ctx) { await ctx.fetch("http://127.0.0.1:${port}/"); return { pinged: true }; }\n` },
      },
    },
    config: { grants: { pinger: { network: [{ host: `http://127.0.0.1:${port}`, allowPrivate: true }] } } },
  });
  await approveAll(ws);
  // /dev/full: open works, every write fails with ENOSPC — a full disk, for real.
  symlinkSync("/dev/full", join(ws.dir, "audit.jsonl"));
  const runtime = await openRuntime(ws.configPath, createLogger({ level: "silent" }));
  try {
    const call = () => runtime.broker.call("pinger", {}, { actor: "test", signal: new AbortController().signal });
    const first = await call();
    assert.equal(!first.ok && first.error.code, "E_AUDIT");
    assert.match(!first.ok ? first.error.message : "", /refuses calls rather than run unaudited/);
    const hitsAfterFirst = hits;
    const second = await call();
    assert.equal(!second.ok && second.error.code, "E_AUDIT");
    assert.equal(hits, hitsAfterFirst, "the tool did not run again");
  } finally {
    await runtime.close();
    api.close();
  }
});
