import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { canonicalJson, GENESIS_HASH, openAuditLog, verifyAuditChain, type AuditEntry } from "../../src/audit/index.js";
import { captureLogger, readLinesOf, readRecords, sampleEntry, tempDir } from "./audit-fixtures.js";

async function freshLog(options: { maxBytes?: number; retainDays?: number } = {}) {
  const file = join(await tempDir(), "audit.jsonl");
  const { logger, lines } = captureLogger();
  const log = await openAuditLog(file, { logger, ...options });
  return { file, log, logLines: lines };
}

describe("audit log: appending", () => {
  test("the first record is seq 1, links to the genesis hash, and its hash is sha256(prev + canonical record)", async () => {
    const { file, log } = await freshLog();
    const record = await log.append(sampleEntry(1));
    assert.equal(GENESIS_HASH, "0".repeat(64));
    assert.equal(record.seq, 1);
    assert.equal(record.prev, GENESIS_HASH);
    const { hash, ...withoutHash } = record;
    assert.equal(hash, createHash("sha256").update(GENESIS_HASH + canonicalJson(withoutHash)).digest("hex"));
    assert.deepEqual(await readLinesOf(file), [canonicalJson(record)]);
    assert.equal(log.lastHash, hash);
    assert.equal(log.nextSeq, 2);
    await log.close();
  });

  test("the written line is the canonical JSON of the record whatever extra keys sort around \"hash\"", async () => {
    const { file, log } = await freshLog();
    const extras = { "": 0, Hash: 1, has: 2, hasa: 3, hash2: 4, hashish: 5, "ü": 6, "~": 7, toJSON: "x" };
    const record = await log.append(sampleEntry(1, extras));
    await log.close();
    assert.deepEqual(await readLinesOf(file), [canonicalJson(record)]);
    const { hash, ...withoutHash } = record;
    assert.equal(hash, createHash("sha256").update(GENESIS_HASH + canonicalJson(withoutHash)).digest("hex"));
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("each record's prev is the previous record's hash and seq grows by one", async () => {
    const { file, log } = await freshLog();
    for (let i = 1; i <= 5; i++) await log.append(sampleEntry(i));
    await log.close();
    const records = await readRecords(file);
    assert.deepEqual(records.map((r) => r.seq), [1, 2, 3, 4, 5]);
    for (let i = 1; i < records.length; i++) assert.equal(records[i]!.prev, records[i - 1]!.hash);
  });

  test("concurrent appends all land, in seq order, as one valid chain", async () => {
    const { file, log } = await freshLog();
    const records = await Promise.all(Array.from({ length: 64 }, (_, i) => log.append(sampleEntry(i))));
    await log.close();
    assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 64 }, (_, i) => i + 1));
    assert.deepEqual((await readRecords(file)).map((r) => r.callId), records.map((r) => r.callId));
    assert.deepEqual(await verifyAuditChain(file), {
      ok: true, records: 64, files: [file], firstBrokenSeq: null, reason: null, tornTail: false, firstSeq: 1, lastSeq: 64, pruned: [],
    });
  });

  test("a caller cannot choose its own seq, prev or hash", async () => {
    const { file, log } = await freshLog();
    const forged = { ...sampleEntry(1), seq: 99, prev: "f".repeat(64), hash: "e".repeat(64) } as AuditEntry;
    const record = await log.append(forged);
    await log.close();
    assert.equal(record.seq, 1);
    assert.equal(record.prev, GENESIS_HASH);
    assert.notEqual(record.hash, "e".repeat(64));
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("extra fields added by later issues are stored and covered by the hash", async () => {
    const { file, log } = await freshLog();
    await log.append(sampleEntry(1, { redactedOutput: true }));
    await log.close();
    const text = await readFile(file, "utf8");
    assert.match(text, /"redactedOutput":true/);
    await writeFile(file, text.replace('"redactedOutput":true', '"redactedOutput":false'));
    assert.equal((await verifyAuditChain(file)).reason, "hash mismatch (record changed)");
  });

  test("input mutated by the caller after append does not change what was logged", async () => {
    const { file, log } = await freshLog();
    const entry = sampleEntry(1, { input: { path: "a.txt" } });
    const pending = log.append(entry);
    (entry.input as { path: string }).path = "changed.txt";
    await pending;
    await log.close();
    assert.deepEqual((await readRecords(file))[0]!.input, { path: "a.txt" });
  });

  test("an entry JSON cannot represent is refused with E_AUDIT and the log stays usable", async () => {
    const { file, log } = await freshLog();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(log.append(sampleEntry(1, { input: cyclic })), { code: "E_AUDIT" });
    assert.equal(log.nextSeq, 1);
    assert.equal((await log.append(sampleEntry(2))).seq, 1);
    await log.close();
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("append after close is refused with E_AUDIT", async () => {
    const { log } = await freshLog();
    await log.append(sampleEntry(1));
    await log.close();
    await assert.rejects(log.append(sampleEntry(2)), { code: "E_AUDIT", message: /closed/ });
  });

  test("close waits for appends already handed in", async () => {
    const { file, log } = await freshLog();
    const pending = Array.from({ length: 10 }, (_, i) => log.append(sampleEntry(i)));
    await log.close();
    await Promise.all(pending);
    assert.equal((await readRecords(file)).length, 10);
  });

  test("the same file cannot be opened twice in one process (two writers would fork the chain)", async () => {
    const { file, log } = await freshLog();
    await assert.rejects(openAuditLog(file, { logger: captureLogger().logger }), { code: "E_AUDIT", message: /already open/ });
    await log.close();
    await (await openAuditLog(file, { logger: captureLogger().logger })).close();
  });

  test("nonsense rotation options are refused with E_CONFIG", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    await assert.rejects(openAuditLog(file, { maxBytes: 0, logger: captureLogger().logger }), { code: "E_CONFIG" });
    await assert.rejects(openAuditLog(file, { retainDays: -1, logger: captureLogger().logger }), { code: "E_CONFIG" });
  });
});

describe("audit log: reopening", () => {
  test("reopening an existing file continues the same chain", async () => {
    const { file, log } = await freshLog();
    for (let i = 1; i <= 3; i++) await log.append(sampleEntry(i));
    const lastHash = log.lastHash;
    await log.close();

    const reopened = await openAuditLog(file, { logger: captureLogger().logger });
    assert.equal(reopened.nextSeq, 4);
    assert.equal(reopened.lastHash, lastHash);
    const record = await reopened.append(sampleEntry(4));
    await reopened.close();
    assert.equal(record.prev, lastHash);
    assert.equal((await verifyAuditChain(file)).records, 4);
  });

  test("a torn last line from a crash is cut off on open, with a warning, and the chain continues", async () => {
    const { file, log } = await freshLog();
    for (let i = 1; i <= 3; i++) await log.append(sampleEntry(i));
    await log.close();
    await appendFile(file, '{"actor":"stdio","callId":"call-4","dig'); // the write a crash cut short

    const { logger, lines } = captureLogger();
    const reopened = await openAuditLog(file, { logger });
    assert.equal(reopened.nextSeq, 4);
    const warning = lines.find((l) => l.event === "audit.torn_tail");
    assert.equal(warning?.level, "warn");
    assert.equal(warning?.afterSeq, 3);
    await reopened.append(sampleEntry(4));
    await reopened.close();
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.tornTail, false);
    assert.equal(report.records, 4);
  });

  test("a broken last record is logged as an error on open; the log still opens and appends", async () => {
    const { file, log } = await freshLog();
    for (let i = 1; i <= 5; i++) await log.append(sampleEntry(i));
    await log.close();
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace('"text":"hello 5"', '"text":"hello 55"'));

    const { logger, lines } = captureLogger();
    const reopened = await openAuditLog(file, { logger });
    const error = lines.find((l) => l.event === "audit.chain_broken");
    assert.equal(error?.level, "error");
    assert.equal(error?.seq, 5);
    assert.equal(reopened.nextSeq, 6);
    await reopened.append(sampleEntry(6));
    await reopened.close();
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, false);
    assert.equal(report.firstBrokenSeq, 5);
  });

  test("a break further back is not read at open (only the tail is) but verify reports it", async () => {
    const { file, log } = await freshLog();
    for (let i = 1; i <= 5; i++) await log.append(sampleEntry(i));
    await log.close();
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace('"text":"hello 2"', '"text":"hello 22"'));
    const reopened = await openAuditLog(file, { logger: captureLogger().logger });
    assert.equal(reopened.nextSeq, 6);
    await reopened.append(sampleEntry(6));
    await reopened.close();
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, false);
    assert.equal(report.firstBrokenSeq, 2);
  });

  test("an intact file opens without warnings or errors", async () => {
    const { file, log } = await freshLog();
    await log.append(sampleEntry(1));
    await log.close();
    const { logger, lines } = captureLogger();
    await (await openAuditLog(file, { logger })).close();
    assert.deepEqual(lines.filter((l) => l.level === "warn" || l.level === "error"), []);
  });
});
