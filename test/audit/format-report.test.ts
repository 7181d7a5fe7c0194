import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatVerifyReport, type VerifyReport } from "../../src/audit/index.js";

const base: VerifyReport = { ok: true, records: 42, files: ["a", "b", "c"], firstBrokenSeq: null, reason: null, tornTail: false };

describe("formatVerifyReport", () => {
  test("an intact chain", () => {
    assert.equal(formatVerifyReport(base), "ok: 42 records verified in 3 files");
    assert.equal(formatVerifyReport({ ...base, files: ["a"] }), "ok: 42 records verified in 1 file");
  });

  test("a broken chain names the first broken seq and why", () => {
    const text = formatVerifyReport({ ...base, ok: false, records: 16, firstBrokenSeq: 17, reason: "hash mismatch (record changed)" });
    assert.equal(text.split("\n")[0], "BROKEN at seq 17: hash mismatch (record changed)");
    assert.match(text, /16 records verified before it/);
  });

  test("a torn tail says the chain before it is intact", () => {
    const text = formatVerifyReport({ ...base, tornTail: true, lastSeq: 42 });
    assert.match(text, /^ok: 42 records verified/);
    assert.match(text, /torn last line after seq 42 \(crash during write\), chain intact before it/);
  });

  test("a pruned start says its prev is trusted", () => {
    assert.match(formatVerifyReport({ ...base, firstSeq: 501 }), /starts at seq 501 \(older files pruned\); its prev hash is trusted/);
  });

  test("no file at all", () => {
    assert.equal(formatVerifyReport({ ...base, ok: false, records: 0, files: [], reason: "no audit file at x" }), "BROKEN: no audit file at x");
  });
});
