import assert from "node:assert/strict";
import { readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, test } from "node:test";
import { formatVerifyReport, openAuditLog, verifyAuditChain, type AuditRecord } from "../../src/audit/index.js";
import { listRotatedFiles } from "../../src/audit/rotation.js";
import { captureLogger, readRecords, sampleEntry, tempDir } from "./audit-fixtures.js";

const MAX_BYTES = 2_000; // about three sample records per file

async function rotatedLog(records: number, options: { concurrent?: boolean } = {}) {
  const file = join(await tempDir(), "audit.jsonl");
  const log = await openAuditLog(file, { logger: captureLogger().logger, maxBytes: MAX_BYTES });
  if (options.concurrent) await Promise.all(Array.from({ length: records }, (_, i) => log.append(sampleEntry(i + 1))));
  else for (let i = 1; i <= records; i++) await log.append(sampleEntry(i));
  await log.close();
  return { file, rotated: await listRotatedFiles(file) };
}

async function ageFile(path: string, days: number): Promise<void> {
  const then = new Date(Date.now() - days * 86_400_000);
  await utimes(path, then, then);
}

describe("audit log: rotation", () => {
  test("a file that would pass maxBytes is renamed <file>.<firstSeq>-<lastSeq> and a new one continues the chain", async () => {
    const { file, rotated } = await rotatedLog(20);
    assert.ok(rotated.length >= 3, `expected several rotated files, got ${rotated.length}`);
    assert.equal(basename(rotated[0]!.path), `audit.jsonl.000000000001-${String(rotated[0]!.lastSeq).padStart(12, "0")}`);
    let expectedFirst = 1;
    let lastHash: string | null = null;
    for (const r of rotated) {
      assert.ok((await stat(r.path)).size <= MAX_BYTES);
      const records = await readRecords(r.path);
      assert.equal(records[0]!.seq, expectedFirst);
      assert.equal(records.at(-1)!.seq, r.lastSeq);
      if (lastHash) assert.equal(records[0]!.prev, lastHash, "a new file starts from the last hash");
      lastHash = records.at(-1)!.hash;
      expectedFirst = r.lastSeq + 1;
    }
    const current = await readRecords(file);
    assert.equal(current[0]!.seq, expectedFirst);
    assert.equal(current[0]!.prev, lastHash);
  });

  test("verify checks the rotated files and the current one as one chain", async () => {
    const { file, rotated } = await rotatedLog(20);
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.records, 20);
    assert.deepEqual(report.files, [...rotated.map((r) => r.path), file]);
  });

  test("rotation inside one group-committed batch keeps the chain intact", async () => {
    const { file, rotated } = await rotatedLog(30, { concurrent: true });
    assert.ok(rotated.length >= 3);
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.records, 30);
  });

  test("tampering in a rotated file is still detected", async () => {
    const { file, rotated } = await rotatedLog(20);
    const target = rotated[1]!;
    const text = await readFile(target.path, "utf8");
    await writeFile(target.path, text.replace(`"callId":"call-${target.firstSeq}"`, `"callId":"call-x"`));
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, false);
    assert.equal(report.firstBrokenSeq, target.firstSeq);
    assert.equal(report.reason, "hash mismatch (record changed)");
  });

  test("a rotated file deleted from the middle breaks the chain", async () => {
    const { file, rotated } = await rotatedLog(20);
    await unlink(rotated[1]!.path);
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, false);
    assert.equal(report.firstBrokenSeq, rotated[1]!.firstSeq);
  });

  test("after a reopen, files still rotate before passing maxBytes", async () => {
    const { file } = await rotatedLog(7);
    const log = await openAuditLog(file, { logger: captureLogger().logger, maxBytes: MAX_BYTES });
    for (let i = 8; i <= 20; i++) await log.append(sampleEntry(i));
    await log.close();
    for (const r of await listRotatedFiles(file)) assert.ok((await stat(r.path)).size <= MAX_BYTES, r.path);
    assert.equal((await verifyAuditChain(file)).records, 20);
    // The file that was current at the reopen (its first seq not read at open) is named by its real range.
    for (const r of await listRotatedFiles(file)) {
      const records = await readRecords(r.path);
      assert.deepEqual([records[0]!.seq, records.at(-1)!.seq], [r.firstSeq, r.lastSeq], basename(r.path));
    }
  });

  test("reopening after a crash between the rename and the first write resumes from the rotated file", async () => {
    const { file } = await rotatedLog(20);
    const current = await readRecords(file);
    await rename(file, `${file}.${String(current[0]!.seq).padStart(12, "0")}-${String(current.at(-1)!.seq).padStart(12, "0")}`);
    const log = await openAuditLog(file, { logger: captureLogger().logger, maxBytes: MAX_BYTES });
    assert.equal(log.nextSeq, 21);
    assert.equal(log.lastHash, current.at(-1)!.hash);
    await log.append(sampleEntry(21));
    await log.close();
    assert.equal((await verifyAuditChain(file)).records, 21);
  });
});

describe("audit log: retention", () => {
  test("rotated files older than retainDays are pruned at open, logged, and verify stays green from the oldest kept file", async () => {
    const { file, rotated } = await rotatedLog(20);
    await ageFile(rotated[0]!.path, 10);
    await ageFile(rotated[1]!.path, 9);
    const { logger, lines } = captureLogger();
    const log = await openAuditLog(file, { logger, retainDays: 7 });
    await log.append(sampleEntry(21));
    await log.close();

    const remaining = await listRotatedFiles(file);
    assert.deepEqual(remaining.map((r) => r.path), rotated.slice(2).map((r) => r.path));
    const pruneEvent = lines.find((l) => l.event === "audit.pruned");
    assert.equal(pruneEvent?.throughSeq, rotated[1]!.lastSeq);
    assert.deepEqual(pruneEvent?.files, [basename(rotated[0]!.path), basename(rotated[1]!.path)]);

    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.firstSeq, rotated[2]!.firstSeq);
    assert.equal(report.lastSeq, 22, "seq 21 is the pruning record, the call is seq 22");
    assert.equal(report.pruned?.length, 1);
    assert.equal(report.pruned![0]!.seq, 21);
    assert.equal(report.pruned![0]!.throughSeq, rotated[1]!.lastSeq);
    assert.deepEqual(report.pruned![0]!.files, [basename(rotated[0]!.path), basename(rotated[1]!.path)]);
    assert.match(formatVerifyReport(report), new RegExp(`pruned: records through seq ${rotated[1]!.lastSeq} \\(2 files: .*\\) at \\S+, recorded as seq 21`));
    assert.doesNotMatch(formatVerifyReport(report), /no pruning record/);
  });

  test("oldest files deleted without a pruning record are called out by verify", async () => {
    const { file, rotated } = await rotatedLog(20);
    await unlink(rotated[0]!.path); // an intruder hiding the start, not retention
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.deepEqual(report.pruned, []);
    assert.match(formatVerifyReport(report), new RegExp(`no pruning record in the chain covers seq ${rotated[0]!.lastSeq}`));
  });

  test("only a prefix of the chain is pruned: an old file after a recent one is kept", async () => {
    const { file, rotated } = await rotatedLog(20);
    await ageFile(rotated[1]!.path, 30); // rotated[0] is recent, so nothing may go
    await (await openAuditLog(file, { logger: captureLogger().logger, retainDays: 7 })).close();
    assert.equal((await listRotatedFiles(file)).length, rotated.length);
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("files are also pruned when a rotation happens", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const { logger, lines } = captureLogger();
    const log = await openAuditLog(file, { logger, maxBytes: MAX_BYTES, retainDays: 7 });
    for (let i = 1; i <= 20; i++) await log.append(sampleEntry(i));
    const old = await listRotatedFiles(file);
    for (const r of old) await ageFile(r.path, 10);
    assert.deepEqual(lines.filter((l) => l.event === "audit.pruned"), [], "nothing was old yet");

    for (let i = 21; i <= 30; i++) await log.append(sampleEntry(i));
    await log.close();
    const left = await listRotatedFiles(file);
    assert.ok(left.length > 0);
    assert.ok(left.every((r) => r.firstSeq > old.at(-1)!.lastSeq), "every aged file was pruned at the next rotation");
    assert.equal(lines.find((l) => l.event === "audit.pruned")?.throughSeq, old.at(-1)!.lastSeq);
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.firstSeq, old.at(-1)!.lastSeq + 1);
    assert.equal(report.lastSeq, 31, "30 calls and one pruning record");
    assert.equal(report.pruned?.[0]?.throughSeq, old.at(-1)!.lastSeq);
  });

  test("tampering in a rotated file is still detected after pruning", async () => {
    const { file, rotated } = await rotatedLog(20);
    await ageFile(rotated[0]!.path, 10);
    await (await openAuditLog(file, { logger: captureLogger().logger, retainDays: 7 })).close();
    const target = rotated[2]!;
    const records = (await readFile(target.path, "utf8")).split("\n").filter(Boolean);
    const second = JSON.parse(records[1]!) as AuditRecord;
    records[1] = JSON.stringify({ ...second, outcome: "error" });
    await writeFile(target.path, records.map((l) => `${l}\n`).join(""));
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, false);
    assert.equal(report.firstBrokenSeq, second.seq);
  });
});
