import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openAuditLog, verifyAuditChain } from "../../src/audit/index.js";
import { WardenError } from "../../src/errors.js";
import { deadPid, holdAuditLog } from "../journal/fixtures/holder.js";
import { captureLogger, sampleEntry, tempDir } from "./audit-fixtures.js";

describe("audit log: one writer across processes", () => {
  test("while another live process holds the log, opening it is refused with E_AUDIT naming that pid", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const holder = await holdAuditLog(file);
    try {
      await assert.rejects(openAuditLog(file, { logger: captureLogger().logger }), (err: unknown) => {
        assert.ok(err instanceof WardenError);
        assert.equal(err.code, "E_AUDIT");
        assert.match(err.message, new RegExp(`held by pid ${holder.pid}`));
        assert.equal(err.details?.heldBy, holder.pid);
        return true;
      });
      holder.child.stdin!.write("append\n");
    } finally {
      await holder.stop();
    }
    // The refused opener wrote nothing: the holder's chain is intact, and the lock is free again.
    const log = await openAuditLog(file, { logger: captureLogger().logger });
    await log.append(sampleEntry(1));
    await log.close();
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true, report.reason ?? "");
    assert.equal(report.records, 2);
  });

  test("the lock file holds our pid while open and is removed on close", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const log = await openAuditLog(file, { logger: captureLogger().logger });
    assert.equal(readFileSync(`${file}.lock`, "utf8").trim(), String(process.pid));
    await log.close();
    assert.equal(existsSync(`${file}.lock`), false);
  });

  test("a lock left by a dead process (a crashed server) is stale and taken over", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    writeFileSync(`${file}.lock`, `${await deadPid()}\n`);
    const log = await openAuditLog(file, { logger: captureLogger().logger });
    assert.equal(readFileSync(`${file}.lock`, "utf8").trim(), String(process.pid));
    await log.append(sampleEntry(1));
    await log.close();
  });

  test("a lock naming a live pid (e.g. our parent) is respected, whoever wrote it", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    writeFileSync(`${file}.lock`, `${process.ppid}\n`);
    await assert.rejects(openAuditLog(file, { logger: captureLogger().logger }), { code: "E_AUDIT", message: new RegExp(`held by pid ${process.ppid}`) });
    assert.equal(readFileSync(`${file}.lock`, "utf8").trim(), String(process.ppid), "someone else's lock is left alone");
  });

  test("a lock with unreadable content is stale", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    writeFileSync(`${file}.lock`, "garbage");
    await (await openAuditLog(file, { logger: captureLogger().logger })).close();
  });
});
