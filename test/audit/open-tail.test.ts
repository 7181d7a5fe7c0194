import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openAuditLog, verifyAuditChain } from "../../src/audit/index.js";
import { DEFAULT_AUDIT_MAX_BYTES } from "../../src/audit/open-audit-log.js";
import { listRotatedFiles } from "../../src/audit/rotation.js";
import { captureLogger, sampleEntry, tempDir } from "./audit-fixtures.js";

const WRITER = fileURLToPath(new URL("./fixtures/write-big-log.js", import.meta.url));

describe("audit log: defaults for a long-running server (issue 11)", () => {
  test("opening a 200 MB audit file reads only its tail: under 200 ms, and the chain continues", async () => {
    const file = join(await tempDir(), "audit.jsonl");
    // 200 valid records of ~1 MB each, written by a child (the parent's heap and disk queue stay clean).
    const prev = execFileSync(process.execPath, ["--no-node-snapshot", WRITER, file, "200", String(1024 * 1024)], { encoding: "utf8" });
    assert.ok((await stat(file)).size > 200 * 1024 * 1024);

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
