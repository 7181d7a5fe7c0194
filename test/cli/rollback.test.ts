import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { verifyAuditChain, type AuditRecord } from "../../src/audit/index.js";
import { holdAuditLog } from "../journal/fixtures/holder.js";
import { CANARY, treeHash, treeListing, workspace, type Workspace } from "../journal/fixtures/workspace.js";

function auditRecords(file: string): AuditRecord[] {
  return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
}

async function lastRollbackRecord(w: Workspace): Promise<AuditRecord> {
  const report = await verifyAuditChain(w.auditFile);
  assert.equal(report.ok, true, report.reason ?? "");
  const record = auditRecords(w.auditFile).filter((r) => r.tool === "warden.rollback").at(-1);
  assert.ok(record, "the rollback has an audit record");
  return record;
}

/** A tree with nested files, modes, an empty folder and a link, as an operator's volume might hold. */
function seedTree(ws: string): void {
  writeFileSync(join(ws, "a.txt"), "alpha\n");
  chmodSync(join(ws, "a.txt"), 0o640);
  mkdirSync(join(ws, "docs"));
  writeFileSync(join(ws, "docs", "readme.md"), "# readme\n");
  chmodSync(join(ws, "docs", "readme.md"), 0o600);
  mkdirSync(join(ws, "docs", "deep"));
  writeFileSync(join(ws, "docs", "deep", "x.bin"), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256)));
  chmodSync(join(ws, "docs", "deep", "x.bin"), 0o755);
  chmodSync(join(ws, "docs", "deep"), 0o700);
  mkdirSync(join(ws, "docs", "empty"));
  chmodSync(join(ws, "docs", "empty"), 0o711);
  symlinkSync("readme.md", join(ws, "docs", "link"));
  chmodSync(join(ws, "docs"), 0o750);
}

describe("warden rollback", () => {
  test("writes, overwrites, mkdir and rm (a nested tree with modes) are undone byte for byte", async () => {
    const w = workspace();
    seedTree(w.ws);
    const before = treeListing(w.ws);
    await w.callOk("call-1", [
      { op: "writeFile", path: "/mnt/ws/a.txt", data: "overwritten" },
      { op: "writeFile", path: "/mnt/ws/new.txt", data: "created" },
      { op: "mkdir", path: "/mnt/ws/n1/n2/n3", recursive: true },
      { op: "writeFile", path: "/mnt/ws/n1/n2/f.txt", data: "deep new" },
      { op: "writeFile", path: "/mnt/ws/docs/readme.md", data: "changed before the tree goes" },
      { op: "rm", path: "/mnt/ws/docs", recursive: true },
      { op: "writeFile", path: "/mnt/ws/a.txt", data: "overwritten twice" },
      { op: "mkdir", path: "/mnt/ws/docs" },
      { op: "writeFile", path: "/mnt/ws/docs/other.txt", data: "in the recreated folder" },
      { op: "rm", path: "/mnt/ws/new.txt" },
    ]);
    const beforeHash = createHash("sha256").update(before.join("\n")).digest("hex");
    assert.notEqual(treeHash(w.ws), beforeHash, "the call changed the volume");

    const result = await w.rollback("call-1");
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(treeListing(w.ws), before);
    assert.equal(treeHash(w.ws), beforeHash);
    assert.match(result.stdout, /rolled back call call-1/);
    assert.match(result.stdout, /\/mnt\/ws\/docs\n/);
    assert.match(result.stdout, /audit: recorded in the audit chain as seq 1/);

    const record = await lastRollbackRecord(w);
    assert.equal(record.actor, "cli");
    assert.equal(record.outcome, "ok");
    assert.deepEqual(record.input, { callId: "call-1", force: false });
    assert.ok(record.files.some((f) => f.path === "/mnt/ws/docs" && f.op === "rollback"));
    assert.ok(record.files.every((f) => !f.path.includes(w.base)), "no host paths in the audit record");
  });

  test("a rollback conflicting with a later call is refused and lists that call; --force goes through", async () => {
    const w = workspace();
    writeFileSync(join(w.ws, "a.txt"), "original");
    await w.callOk("call-early", [{ op: "writeFile", path: "/mnt/ws/a.txt", data: "early" }]);
    await w.callOk("call-late", [{ op: "writeFile", path: "/mnt/ws/a.txt", data: "late" }]);

    const refused = await w.rollback("call-early");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refusing to roll back call call-early/);
    assert.match(refused.stderr, /call-late \(notes_tool, .*\): \/mnt\/ws\/a\.txt/);
    assert.equal(readFileSync(join(w.ws, "a.txt"), "utf8"), "late", "nothing restored");
    const refusal = await lastRollbackRecord(w);
    assert.equal(refusal.outcome, "error");
    assert.equal(refusal.errorCode, "E_CONFLICT");
    assert.deepEqual(refusal.conflicts, ["call-late"]);

    const forced = await w.rollback("call-early", true);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /overriding later call\(s\) call-late/);
    assert.equal(readFileSync(join(w.ws, "a.txt"), "utf8"), "original");
    const forcedRecord = await lastRollbackRecord(w);
    assert.deepEqual(forcedRecord.input, { callId: "call-early", force: true });

    // The forced rollback overwrote call-late's change: rolling back call-late now would undo the rollback.
    const undoLate = await w.rollback("call-late");
    assert.equal(undoLate.code, 1);
    assert.match(undoLate.stderr, new RegExp(`${forcedRecord.callId} \\(warden\\.rollback, `));
    assert.equal(readFileSync(join(w.ws, "a.txt"), "utf8"), "original");
  });

  test("a later call that removed a parent folder is a conflict too", async () => {
    const w = workspace();
    mkdirSync(join(w.ws, "docs"));
    writeFileSync(join(w.ws, "docs", "r.md"), "v0");
    await w.callOk("call-edit", [{ op: "writeFile", path: "/mnt/ws/docs/r.md", data: "v1" }]);
    await w.callOk("call-wipe", [{ op: "rm", path: "/mnt/ws/docs", recursive: true }]);
    const refused = await w.rollback("call-edit");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /call-wipe .*\/mnt\/ws\/docs/);
  });

  test("rolling back the later call first clears the conflict, newest first, back to the start", async () => {
    const w = workspace();
    writeFileSync(join(w.ws, "a.txt"), "original");
    const start = treeListing(w.ws);
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/a.txt", data: "one" }]);
    await w.callOk("call-2", [{ op: "writeFile", path: "/mnt/ws/a.txt", data: "two" }, { op: "mkdir", path: "/mnt/ws/d" }]);
    assert.equal((await w.rollback("call-2")).code, 0);
    assert.equal(readFileSync(join(w.ws, "a.txt"), "utf8"), "one");
    const second = await w.rollback("call-1");
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(treeListing(w.ws), start);
  });

  test("a call rolled back once is not rolled back again without --force", async () => {
    const w = workspace();
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/n.txt", data: "x" }]);
    assert.equal((await w.rollback("call-1")).code, 0);
    writeFileSync(join(w.ws, "n.txt"), "written by hand after the rollback");
    const again = await w.rollback("call-1");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already rolled back/);
    assert.equal(readFileSync(join(w.ws, "n.txt"), "utf8"), "written by hand after the rollback");
  });

  test("a rollback never writes through a link planted in place of a folder", async () => {
    const w = workspace();
    mkdirSync(join(w.ws, "d"));
    writeFileSync(join(w.ws, "d", "f.txt"), "before");
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/d/f.txt", data: "after" }]);
    // Someone swaps the folder for a link out of the volume (e.g. a container tool, not journaled).
    renameSync(join(w.ws, "d"), join(w.ws, "d-moved"));
    symlinkSync(w.evil, join(w.ws, "d"));
    // The swap is a change outside the journal: refused; --force tries, and the link is still never followed.
    const refused = await w.rollback("call-1");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\/mnt\/ws\/d\/f\.txt: changed since the call .*parent folder replaced by a link/);
    const result = await w.rollback("call-1", true);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /INCOMPLETE[\s\S]*\/mnt\/ws\/d\/f\.txt: a parent directory was replaced by a link/);
    assert.deepEqual(readdirSync(w.evil), ["canary.txt"], "nothing was written outside the volume");
    assert.equal(readFileSync(join(w.evil, "canary.txt"), "utf8"), CANARY);
    const record = await lastRollbackRecord(w);
    assert.equal(record.errorCode, "E_ROLLBACK_INCOMPLETE");
  });

  test("an unknown call is refused (exit 1) and audited; a malformed id is a usage error", async () => {
    const w = workspace();
    const unknown = await w.rollback("no-such-call");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no journal for call no-such-call/);
    assert.equal((await lastRollbackRecord(w)).errorCode, "E_NO_JOURNAL");
    const bad = await w.rollback("../etc");
    assert.equal(bad.code, 2);
  });

  test("while a live server holds the audit log, the record is spooled and that process seals it into the chain", async () => {
    const w = workspace();
    writeFileSync(join(w.ws, "a.txt"), "original");
    await w.callOk("call-1", [{ op: "writeFile", path: "/mnt/ws/a.txt", data: "changed" }]);
    mkdirSync(join(w.base, "audit"));
    const holder = await holdAuditLog(w.auditFile);
    try {
      holder.child.stdin!.write("append\n");
      const result = await w.rollback("call-1");
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`held by a running warden \\(pid ${holder.pid}\\); the record was spooled`));
      assert.equal(readFileSync(join(w.ws, "a.txt"), "utf8"), "original");
      const spool = `${w.auditFile}.spool`;
      for (let i = 0; i < 100 && readdirSync(spool).some((n) => n.endsWith(".json")); i++) await sleep(50);
      assert.deepEqual(readdirSync(spool).filter((n) => n.endsWith(".json")), [], "the holder ingested the spooled record");
    } finally {
      await holder.stop();
    }
    assert.equal(existsSync(`${w.auditFile}.lock`), false, "the holder released its lock on close");
    const record = await lastRollbackRecord(w);
    assert.equal(record.outcome, "ok");
    assert.deepEqual(record.input, { callId: "call-1", force: false });
  });
});
