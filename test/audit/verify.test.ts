import assert from "node:assert/strict";
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { GENESIS_HASH, openAuditLog, verifyAuditChain, type AuditRecord } from "../../src/audit/index.js";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { recordHash } from "../../src/audit/chain.js";
import { captureLogger, readLinesOf, sampleEntry, tempDir, writeLines } from "./audit-fixtures.js";

/** A real log of 10 records, plus its lines for the tamper tests to edit. */
async function tenRecordLog(): Promise<{ file: string; lines: string[] }> {
  const file = join(await tempDir(), "audit.jsonl");
  const log = await openAuditLog(file, { logger: captureLogger().logger });
  for (let i = 1; i <= 10; i++) await log.append(sampleEntry(i));
  await log.close();
  return { file, lines: await readLinesOf(file) };
}

/** What an attacker without any key can do: rewrite a record and recompute its own hash. */
function forge(record: AuditRecord): string {
  const { hash: _hash, ...body } = record;
  return canonicalJson({ ...body, hash: recordHash(record.prev, body) });
}

const parse = (line: string) => JSON.parse(line) as AuditRecord;

describe("verifyAuditChain", () => {
  test("an untouched log verifies", async () => {
    const { file } = await tenRecordLog();
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.records, 10);
    assert.deepEqual(report.files, [file]);
    assert.equal(report.firstBrokenSeq, null);
  });

  for (const [field, edit] of [
    ["input", (r: AuditRecord) => ({ ...r, input: { text: "something else" } })],
    ["outcome", (r: AuditRecord) => ({ ...r, outcome: "error" })],
    ["actor", (r: AuditRecord) => ({ ...r, actor: "admin" })],
    ["egress", (r: AuditRecord) => ({ ...r, egress: [] })],
    ["ts", (r: AuditRecord) => ({ ...r, ts: "2020-01-01T00:00:00.000Z" })],
  ] as const) {
    test(`a changed ${field} is reported at that record's seq`, async () => {
      const { file, lines } = await tenRecordLog();
      lines[6] = canonicalJson(edit(parse(lines[6]!)));
      await writeLines(file, lines);
      const report = await verifyAuditChain(file);
      assert.equal(report.ok, false);
      assert.equal(report.firstBrokenSeq, 7);
      assert.equal(report.reason, "hash mismatch (record changed)");
      assert.equal(report.records, 6);
    });
  }

  test("a changed record whose own hash was recomputed breaks the link to the next record", async () => {
    const { file, lines } = await tenRecordLog();
    lines[6] = forge({ ...parse(lines[6]!), outcome: "error" });
    await writeLines(file, lines);
    const report = await verifyAuditChain(file);
    assert.equal(report.firstBrokenSeq, 8);
    assert.match(report.reason!, /prev does not match/);
  });

  test("a removed record is detected where it is missing", async () => {
    const { file, lines } = await tenRecordLog();
    lines.splice(4, 1); // seq 5
    await writeLines(file, lines);
    const report = await verifyAuditChain(file);
    assert.equal(report.firstBrokenSeq, 5);
    assert.match(report.reason!, /seq 6 found where 5 was expected/);
  });

  test("a removed record whose successors were renumbered and re-hashed... still breaks at the first renumbered one", async () => {
    const { file, lines } = await tenRecordLog();
    const rest = lines.slice(5).map((l) => forge({ ...parse(l), seq: parse(l).seq - 1 }));
    await writeLines(file, [...lines.slice(0, 4), ...rest]);
    const report = await verifyAuditChain(file);
    assert.equal(report.firstBrokenSeq, 5);
    assert.match(report.reason!, /prev does not match/);
  });

  test("reordered records are detected", async () => {
    const { file, lines } = await tenRecordLog();
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    await writeLines(file, lines);
    const report = await verifyAuditChain(file);
    assert.equal(report.firstBrokenSeq, 3);
    assert.match(report.reason!, /reordered/);
  });

  test("an inserted forged record, correctly linked and hashed, is exposed by the record after it", async () => {
    const { file, lines } = await tenRecordLog();
    const before = parse(lines[3]!);
    const fake = { ...sampleEntry(99), seq: before.seq + 1, prev: before.hash };
    const forged = canonicalJson({ ...fake, hash: recordHash(fake.prev, fake) });
    lines.splice(4, 0, forged);
    await writeLines(file, lines);
    const report = await verifyAuditChain(file);
    assert.equal(report.firstBrokenSeq, 6);
    assert.match(report.reason!, /seq 5 found where 6 was expected/);
  });

  test("an inserted line that is not a record is detected", async () => {
    const { file, lines } = await tenRecordLog();
    lines.splice(2, 0, '{"note":"hello"}');
    await writeLines(file, lines);
    const report = await verifyAuditChain(file);
    assert.equal(report.firstBrokenSeq, 3);
    assert.match(report.reason!, /not an audit record/);
  });

  test("a log whose first record does not start from the genesis hash is broken", async () => {
    const { file, lines } = await tenRecordLog();
    lines[0] = forge({ ...parse(lines[0]!), prev: "1".repeat(64) });
    await writeLines(file, lines);
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, false);
    assert.match(report.reason!, /genesis/);
    assert.notEqual(GENESIS_HASH, "1".repeat(64));
  });

  test("a torn last line is reported as tornTail, not as a broken chain", async () => {
    const { file } = await tenRecordLog();
    await appendFile(file, '{"actor":"std');
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.tornTail, true);
    assert.equal(report.records, 10);
    assert.equal(report.lastSeq, 10);
  });

  test("a line reformatted without changing its data still verifies (the hash is over canonical JSON, not the bytes)", async () => {
    const { file, lines } = await tenRecordLog();
    const record = parse(lines[4]!);
    const reordered = Object.fromEntries(Object.entries(record).reverse());
    lines[4] = JSON.stringify(reordered, null, 1).replace(/\n/g, " ");
    await writeLines(file, lines);
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("a record whose input has its own \"hash\" key verifies, and editing that key is detected", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const log = await openAuditLog(file, { logger: captureLogger().logger });
    const record = await log.append(sampleEntry(1, { input: { a: 1, hash: "c".repeat(64) } }));
    await log.close();
    assert.equal((await verifyAuditChain(file)).ok, true);
    const [line] = await readLinesOf(file);
    await writeLines(file, [line!.replace(`"hash":"${"c".repeat(64)}"`, `"hash":"${"d".repeat(64)}"`)]);
    assert.equal((await verifyAuditChain(file)).reason, "hash mismatch (record changed)");
    assert.notEqual(record.hash, "c".repeat(64));
  });

  test("a missing audit file is not reported as ok", async () => {
    const file = join(await tempDir(), "none.jsonl");
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, false);
    assert.match(report.reason!, /no audit file/);
  });

  test("an empty audit file verifies with zero records", async () => {
    const file = join(await tempDir(), "empty.jsonl");
    await writeFile(file, "");
    assert.equal((await verifyAuditChain(file)).ok, true);
  });
});
