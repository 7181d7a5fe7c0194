import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { computeToolDigest } from "../../src/manifest/index.js";

// docs/threat-model.md, "Approvals and rollback": modes and mtimes are not part of the digest (isolate code is its bytes).
test("mode and mtime changes leave the digest as it was; a content change does not", async () => {
  const dir = mkdtempSync(join(tmpdir(), "warden-digest-modes-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "index.js"), "export default () => 1;\n");
  const before = (await computeToolDigest(dir)).digest;
  chmodSync(join(dir, "index.js"), 0o755);
  utimesSync(join(dir, "index.js"), new Date(0), new Date(0));
  assert.equal((await computeToolDigest(dir)).digest, before);
  writeFileSync(join(dir, "index.js"), "export default () => 2;\n");
  assert.notEqual((await computeToolDigest(dir)).digest, before);
});
