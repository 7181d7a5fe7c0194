import assert from "node:assert/strict";
import { test } from "node:test";
import { approvalDiff } from "../../src/policy/approval-diff.js";
import type { Approval } from "../../src/policy/lock.js";

const base: Approval = {
  name: "t",
  version: "1.0.0",
  digest: "sha256:aaa",
  runtime: "isolate",
  effect: "read",
  capabilities: { network: ["api.example.com"], filesystem: [{ volume: "docs", access: "read" }], env: [] },
  limits: { timeoutMs: 1000, memoryMb: 64 },
  approvedAt: "2026-01-01T00:00:00.000Z",
};

test("an update that adds a host, widens access, adds a secret, raises the effect and a limit shows each as new", () => {
  const next: Approval = {
    ...base,
    version: "1.1.0",
    digest: "sha256:bbb",
    effect: "write",
    capabilities: { network: ["api.example.com", "evil.example"], filesystem: [{ volume: "docs", access: "read-write" }], env: ["KEY"] },
    limits: { timeoutMs: 5000, memoryMb: 64 },
  };
  const diff = approvalDiff(base, next);
  assert.ok(diff.includes("NEW network host: evil.example"));
  assert.ok(diff.includes("NEW wider access: docs read → read-write"));
  assert.ok(diff.includes("NEW secret: KEY"));
  assert.ok(diff.includes("NEW effect raised: read → write"));
  assert.ok(diff.includes("NEW raised limit: timeoutMs 1000 → 5000"));
  assert.ok(!diff.some((d) => d.includes("memoryMb")));
});

test("an update that only changes code says so", () => {
  const diff = approvalDiff(base, { ...base, digest: "sha256:ccc" });
  assert.deepEqual(diff, ["code changed (digest aaa → ccc)"]);
});
