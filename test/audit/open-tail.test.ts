import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { GENESIS_HASH, openAuditLog, verifyAuditChain } from "../../src/audit/index.js";
import { sealRecord } from "../../src/audit/chain.js";
import { DEFAULT_AUDIT_MAX_BYTES } from "../../src/audit/open-audit-log.js";
import { listRotatedFiles } from "../../src/audit/rotation.js";
import { captureLogger, sampleEntry, tempDir } from "./audit-fixtures.js";

describe("audit log: defaults for a long-running server (issue 11)", () => {
  test("opening a 200 MB audit file reads only its tail: under 200 ms, and the chain continues", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    // 200 valid records of ~1 MB each, written in 16 MB chunks.
    const handle = await open(file, "w");
    let prev = GENESIS_HASH;
    let chunk: string[] = [];
    let chunkBytes = 0;
    const filler = "z".repeat(1024 * 1024);
    for (let seq = 1; seq <= 200; seq++) {
      const { record, line } = sealRecord(sampleEntry(seq, { input: { text: filler } }), seq, prev);
      prev = record.hash;
      chunk.push(line, "\n");
      chunkBytes += line.length + 1;
      if (chunkBytes >= 16 * 1024 * 1024 || seq === 200) {
        await handle.write(chunk.join(""));
        chunk = [];
        chunkBytes = 0;
      }
    }
    await handle.close();

    const started = performance.now();
    const log = await openAuditLog(file, { logger: captureLogger().logger, maxBytes: 1024 * 1024 * 1024 });
    const openMs = performance.now() - started;
    assert.ok(openMs < 200, `opening took ${openMs.toFixed(1)} ms`);
    assert.equal(log.nextSeq, 201);
    assert.equal(log.lastHash, prev);
    const next = await log.append(sampleEntry(201));
    await log.close();
    assert.equal(next.prev, prev);
    const report = await verifyAuditChain(file);
    assert.equal(report.ok, true);
    assert.equal(report.records, 201);
  });

  test("without audit.maxBytes the log rotates at 64 MiB", async () => {
    assert.equal(DEFAULT_AUDIT_MAX_BYTES, 64 * 1024 * 1024);
    const file = join(await tempDir(), "audit.jsonl");
    const log = await openAuditLog(file, { logger: captureLogger().logger });
    const filler = "r".repeat(3 * 1024 * 1024);
    for (let i = 1; i <= 23; i++) await log.append(sampleEntry(i, { input: { text: filler } })); // ~69 MB
    await log.close();
    const rotated = await listRotatedFiles(file);
    assert.equal(rotated.length, 1);
    assert.equal(rotated[0]!.firstSeq, 1);
    assert.equal((await verifyAuditChain(file)).records, 23);
  });
});
