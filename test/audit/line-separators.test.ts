import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { canonicalJson, GENESIS_HASH, openAuditLog, verifyAuditChain } from "../../src/audit/index.js";
import { captureLogger, sampleEntry, tempDir } from "./audit-fixtures.js";

describe("audit log: Unicode line separators (issue 18)", () => {
  test("U+2028 and U+2029 in tool input are escaped: one record stays one line for every line splitter", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const log = await openAuditLog(file, { logger: captureLogger().logger });
    const forged = '\u2028{"seq":2,"tool":"forged"}\u2029';
    const record = await log.append(sampleEntry(1, { input: { text: forged } }));
    await log.close();
    const text = await readFile(file, "utf8");
    assert.doesNotMatch(text, /[\u2028\u2029]/);
    assert.match(text, /\\u2028\{\\"seq\\":2/);
    // What a reader splitting on Unicode line boundaries (JS /^$/m, Python splitlines) sees: one line.
    assert.equal(text.split(/\r\n|[\n\r\u2028\u2029\u0085]/).filter(Boolean).length, 1);
    assert.deepEqual((JSON.parse(text) as { input: unknown }).input, { text: forged }, "the value round-trips");
    const { hash, ...body } = record;
    assert.equal(hash, createHash("sha256").update(GENESIS_HASH + canonicalJson(body)).digest("hex"), "the hash is over the escaped text");
    assert.equal((await verifyAuditChain(file)).ok, true);
  });

  test("a line written before the escaping (raw U+2028, hashed raw) still verifies, and a changed one does not", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    const body = { ...sampleEntry(1, { input: { text: "a\u2028b" } }), seq: 1, prev: GENESIS_HASH };
    const rawText = canonicalJson(body, { rawLineSeparators: true });
    assert.match(rawText, /a\u2028b/);
    const hash = createHash("sha256").update(GENESIS_HASH + rawText).digest("hex");
    const legacy = canonicalJson({ ...body, hash }, { rawLineSeparators: true });
    await writeFile(file, `${legacy}\n`);
    assert.equal((await verifyAuditChain(file)).ok, true, "fast path: the line minus its hash is what was hashed");
    // Re-serialized by some tool with the separators escaped: only the full re-computation can accept it.
    await writeFile(file, `${JSON.stringify({ ...body, hash }).replace("\u2028", "\\u2028")}\n`);
    assert.equal((await verifyAuditChain(file)).ok, true, "slow path: the legacy raw form is tried too");
    await writeFile(file, `${legacy.replace("a\u2028b", "a\u2029b")}\n`);
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, false);
    assert.equal(report.firstBrokenSeq, 1);
  });
});
