import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, test } from "node:test";
import { canonicalJson, openAuditLog, verifyAuditChain, type AuditRecord } from "../../src/audit/index.js";
import { canonicalDigest } from "../../src/audit/canonical-digest.js";
import { captureLogger, readLinesOf, readRecords, sampleEntry, tempDir } from "./audit-fixtures.js";

/** 100,000 egress records of an 8,000-character host (issue 17): ~800 MB of JSON, cheap in memory (one shared string). */
function hugeEgress(): AuditRecord["egress"] {
  const host = "a".repeat(8000) + ".evil.test";
  return Array.from({ length: 100_000 }, (_, i) => ({ host, port: 443, method: "CONNECT", status: null, bytes: i, denied: "not in the allowlist" }));
}

describe("audit log: bounded records", () => {
  test("a record too large to serialise is appended truncated, still chained, and the next append works", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const { logger, lines } = captureLogger();
    const log = await openAuditLog(file, { logger });
    await log.append(sampleEntry(1));
    const egress = hugeEgress();
    const truncated = await log.append(sampleEntry(2, { egress }));
    const next = await log.append(sampleEntry(3));
    await log.close();

    assert.equal(truncated.seq, 2);
    assert.equal(next.seq, 3);
    assert.equal(next.prev, truncated.hash);
    const note = truncated.truncated as { maxRecordBytes: number; fields: Record<string, { items?: number; keptItems?: number; atLeastBytes?: number }> };
    assert.deepEqual(Object.keys(note.fields), ["egress"]);
    assert.equal(note.fields.egress!.items, 100_000);
    assert.ok(note.fields.egress!.keptItems! > 0 && note.fields.egress!.keptItems! < 100_000);
    assert.ok(note.fields.egress!.atLeastBytes! > 0, "too large to hash within the budget: a lower bound is kept");
    assert.equal(truncated.callId, "call-2");
    assert.deepEqual(truncated.input, sampleEntry(2).input, "small fields are kept as they were");

    const written = await readLinesOf(file);
    assert.equal(written.length, 3);
    assert.ok(Buffer.byteLength(written[1]!) < note.maxRecordBytes);
    assert.equal(lines.find((l) => l.event === "audit.record_truncated")?.seq, 2);
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.records, 3);
  });

  test("an oversized field that can be measured keeps its original size and sha256", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const log = await openAuditLog(file, { logger: captureLogger().logger, maxRecordBytes: 64 * 1024 });
    const input = { text: "x".repeat(200_000) };
    const record = await log.append(sampleEntry(1, { input }));
    await log.close();
    const note = record.truncated as { fields: Record<string, { bytes: number; sha256: string }>; original: { bytes: number } };
    assert.equal(record.input, null);
    const text = canonicalJson(input);
    assert.deepEqual(note.fields.input, { bytes: Buffer.byteLength(text), sha256: createHash("sha256").update(text).digest("hex") });
    assert.ok(note.original.bytes > 200_000);
    assert.ok((await readLinesOf(file))[0]!.length < 64 * 1024);
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("a record within the bound is written whole", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const log = await openAuditLog(file, { logger: captureLogger().logger, maxRecordBytes: 64 * 1024 });
    const record = await log.append(sampleEntry(1, { input: { text: "y".repeat(30_000) } }));
    await log.close();
    assert.equal(record.truncated, undefined);
    assert.deepEqual((await readRecords(file))[0]!.input, { text: "y".repeat(30_000) });
  });

  test("the streamed digest equals sha256 of canonicalJson, long strings and surrogate pairs included", () => {
    const value = { b: ["\u2028", "😀".repeat(700_000), { z: undefined, y: new Date(0) }], a: "q\"\n" };
    const text = canonicalJson(value);
    assert.deepEqual(canonicalDigest(value, 1e9), { bytes: Buffer.byteLength(text), sha256: createHash("sha256").update(text).digest("hex") });
    const bounded = canonicalDigest(value, 100);
    assert.ok("atLeastBytes" in bounded && bounded.atLeastBytes > 100, "past the budget only a lower bound is given");
  });

  test("maxRecordBytes below the minimum is a config error", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    await assert.rejects(openAuditLog(file, { logger: captureLogger().logger, maxRecordBytes: 100 }), { code: "E_CONFIG" });
  });
});
