import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { verifyAuditChain } from "../../src/audit/index.js";
import { rollbackCommand } from "../../src/cli/rollback.js";
import { createLogger } from "../../src/logger.js";
import { openRuntime } from "../../src/runtime/open.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";
import { treeListing } from "./fixtures/workspace.js";

test("a tool's ctx.fs changes through the broker are undone by warden rollback while the server runs", async () => {
  const ws = makeWorkspace({
    tools: {
      editor: {
        manifest: isolateManifest("editor", { effect: "write", capabilities: { filesystem: [{ volume: "ws", access: "read-write" }] } }),
        files: {
          "index.js": `export default async function run(input, ctx) {
  await ctx.fs.writeFile("/mnt/ws/a.txt", "changed");
  await ctx.fs.mkdir("/mnt/ws/n/m", { recursive: true });
  await ctx.fs.writeFile("/mnt/ws/n/m/new.txt", "new");
  await ctx.fs.rm("/mnt/ws/docs", { recursive: true });
  return { ok: true };
}\n`,
        },
      },
    },
    config: { volumes: { ws: { path: "./vol/ws" } }, journal: { retainDays: 7 } },
  });
  const vol = join(ws.dir, "vol", "ws");
  mkdirSync(join(vol, "docs", "deep"), { recursive: true });
  writeFileSync(join(vol, "a.txt"), "original");
  writeFileSync(join(vol, "docs", "deep", "x"), "x");
  const before = treeListing(vol);
  await approveAll(ws);
  const runtime = await openRuntime(ws.configPath, createLogger({ level: "silent" }));
  let callId: string;
  try {
    const result = await runtime.broker.call("editor", {}, { actor: "test", signal: new AbortController().signal });
    assert.equal(result.ok, true, JSON.stringify(result));
    callId = result.callId;
    assert.notDeepEqual(treeListing(vol), before);
    let out = "";
    let err = "";
    const code = await rollbackCommand({ positionals: [callId], flags: {}, configPath: ws.configPath }, { stdout: (t) => void (out += t), stderr: (t) => void (err += t) });
    assert.equal(code, 0, err);
    assert.match(out, /spooled/);
    assert.deepEqual(treeListing(vol), before);
    const spool = `${ws.auditFile}.spool`;
    for (let i = 0; i < 100 && readdirSync(spool).some((n) => n.endsWith(".json")); i++) await sleep(50);
  } finally {
    await runtime.close();
  }
  const report = await verifyAuditChain(ws.auditFile);
  assert.equal(report.ok, true, report.reason ?? "");
  const records = readFileSync(ws.auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(records.map((r: { tool: string }) => r.tool), ["editor", "warden.rollback"]);
  assert.equal(records[1].input.callId, callId!);
});
