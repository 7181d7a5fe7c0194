import assert from "node:assert/strict";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openAuditLog } from "../../src/audit/index.js";
import { WardenError } from "../../src/errors.js";
import { captureLogger, sampleEntry, tempDir } from "./audit-fixtures.js";

/** /dev/full accepts open() but every write() fails with ENOSPC: a disk that filled up, for real. */
async function logOnFullDisk() {
  const file = join(await tempDir(), "audit.jsonl");
  await symlink("/dev/full", file);
  const { logger, lines } = captureLogger();
  return { log: await openAuditLog(file, { logger }), logLines: lines };
}

describe("audit log: write failure", () => {
  test("an append that cannot be written rejects with E_AUDIT", async () => {
    const { log } = await logOnFullDisk();
    await assert.rejects(log.append(sampleEntry(1)), (err: unknown) => {
      assert.ok(err instanceof WardenError);
      assert.equal(err.code, "E_AUDIT");
      assert.match(err.message, /ENOSPC/);
      return true;
    });
    await log.close();
  });

  test("after a failed write every further append is refused with E_AUDIT (no calls run unaudited)", async () => {
    const { log, logLines } = await logOnFullDisk();
    await assert.rejects(log.append(sampleEntry(1)), { code: "E_AUDIT" });
    const seqAfterFailure = log.nextSeq;
    await assert.rejects(log.append(sampleEntry(2)), { code: "E_AUDIT", message: /calls are refused/ });
    await assert.rejects(log.append(sampleEntry(3)), { code: "E_AUDIT" });
    assert.equal(log.nextSeq, seqAfterFailure, "refused at once, without even taking a place in the chain");
    const failures = logLines.filter((l) => l.event === "audit.write_failed");
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.level, "error");
    await log.close();
  });

  test("every append of a failing batch rejects, none resolves", async () => {
    const { log } = await logOnFullDisk();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => log.append(sampleEntry(i))));
    assert.deepEqual(results.map((r) => r.status), Array(8).fill("rejected"));
    for (const r of results) assert.equal((r as PromiseRejectedResult).reason.code, "E_AUDIT");
    await log.close();
  });

  test("a log that cannot even be opened is refused with E_AUDIT", async () => {
    const dir = await tempDir();
    const file = join(dir, "audit.jsonl");
    await symlink(join(dir, "missing-dir", "x"), file); // dangling link into a folder that does not exist
    await assert.rejects(openAuditLog(file, { logger: captureLogger().logger }), { code: "E_AUDIT" });
  });
});
