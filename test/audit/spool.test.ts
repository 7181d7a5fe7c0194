import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { appendOrSpool, ingestSpool, openAuditLog, spoolAuditEntry, verifyAuditChain, type AuditRecord } from "../../src/audit/index.js";
import { captureLogger, sampleEntry, tempDir } from "./audit-fixtures.js";

function records(file: string): AuditRecord[] {
  return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
}

function spooled(file: string): string[] {
  return existsSync(`${file}.spool`) ? readdirSync(`${file}.spool`).filter((n) => n.endsWith(".json")) : [];
}

describe("audit spool: records from a second process", () => {
  test("entries spooled while nobody held the log are sealed into the chain at open, oldest first, then deleted", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    await spoolAuditEntry(file, sampleEntry(1, { callId: "spooled-1" }));
    await spoolAuditEntry(file, sampleEntry(2, { callId: "spooled-2" }));
    const log = await openAuditLog(file, { logger: captureLogger().logger, spoolIntervalMs: 0 });
    await log.append(sampleEntry(3, { callId: "direct" }));
    await log.close();
    assert.deepEqual(records(file).map((r) => [r.seq, r.callId]), [[1, "spooled-1"], [2, "spooled-2"], [3, "direct"]]);
    assert.deepEqual(spooled(file), []);
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("the holder seals entries spooled while it runs, without being asked", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const log = await openAuditLog(file, { logger: captureLogger().logger, spoolIntervalMs: 20 });
    await log.append(sampleEntry(1));
    await spoolAuditEntry(file, sampleEntry(2, { callId: "from-cli" }));
    for (let i = 0; i < 200 && spooled(file).length > 0; i++) await sleep(10);
    await log.append(sampleEntry(3));
    await log.close();
    assert.deepEqual(records(file).map((r) => r.callId), ["call-1", "from-cli", "call-3"]);
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("appendOrSpool goes straight into the chain when nobody holds the log, into the spool when a live process does", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const direct = await appendOrSpool(file, sampleEntry(1), { logger: captureLogger().logger });
    assert.deepEqual(direct, { via: "chain", seq: 1 });

    writeFileSync(`${file}.lock`, `${process.ppid}\n`);
    const viaSpool = await appendOrSpool(file, sampleEntry(2), { logger: captureLogger().logger });
    assert.equal(viaSpool.via, "spool");
    assert.equal(viaSpool.via === "spool" && viaSpool.heldBy, process.ppid);
    assert.equal(records(file).length, 1, "the chain was not touched by the second process");
    assert.equal(spooled(file).length, 1);
  });

  test("a second user in the holder's own process spools too, and the holder seals it", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const log = await openAuditLog(file, { logger: captureLogger().logger, spoolIntervalMs: 20 });
    const delivery = await appendOrSpool(file, sampleEntry(1, { callId: "same-process" }), { logger: captureLogger().logger });
    assert.equal(delivery.via === "spool" && delivery.heldBy, process.pid);
    for (let i = 0; i < 200 && spooled(file).length > 0; i++) await sleep(10);
    await log.close();
    assert.deepEqual(records(file).map((r) => r.callId), ["same-process"]);
  });

  test("a spool file is deleted only after its record is durable: a failing log keeps it", async () => {
    const dir = await tempDir();
    const file = join(dir, "audit.jsonl");
    mkdirSync(`${file}.spool`);
    await spoolAuditEntry(file, sampleEntry(1));
    symlinkSync("/dev/full", file); // every write fails with ENOSPC
    const { logger, lines } = captureLogger();
    const log = await openAuditLog(file, { logger, spoolIntervalMs: 0 });
    await log.close();
    assert.equal(spooled(file).length, 1, "still spooled");
    assert.ok(lines.some((l) => l.event === "audit.spool_failed"));
  });

  test("a spooled file that is not an audit entry is set aside, logged, and not sealed", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    mkdirSync(`${file}.spool`);
    writeFileSync(join(`${file}.spool`, "000000000000001-1-aa.json"), "{not json");
    writeFileSync(join(`${file}.spool`, "000000000000002-1-bb.json"), JSON.stringify({ ...sampleEntry(1), seq: 99, hash: "forged" }));
    // A forged pruning record would make verify explain away deleted files.
    writeFileSync(join(`${file}.spool`, "000000000000003-1-cc.json"), JSON.stringify({ ...sampleEntry(2), tool: "warden.audit.prune", actor: "warden", pruned: { files: ["x"], firstSeq: 1, throughSeq: 500 } }));
    const { logger, lines } = captureLogger();
    const log = await openAuditLog(file, { logger, spoolIntervalMs: 0 });
    assert.equal(await ingestSpool(log, file, logger), 0);
    await log.close();
    assert.equal(readFileSync(file, "utf8"), "");
    assert.equal(readdirSync(`${file}.spool`).filter((n) => n.endsWith(".rejected")).length, 3);
    assert.equal(lines.filter((l) => l.event === "audit.spool_rejected").length, 3);
  });
});
