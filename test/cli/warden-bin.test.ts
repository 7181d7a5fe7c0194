import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { repoRoot } from "../helpers/paths.js";
import { approveAll, makeWorkspace } from "../helpers/workspace.js";
import { TEST_TOOLS } from "../mcp/tools.js";

const BIN = () => join(repoRoot(), "bin", "warden.js");

/** The documented ways in (README): the launcher run by Node 24 with the flag, and the launcher as an executable. */
const WAYS: Array<{ name: string; command: () => string; args: () => string[] }> = [
  { name: "node --no-node-snapshot bin/warden.js", command: () => process.execPath, args: () => ["--no-node-snapshot", BIN()] },
  { name: "node bin/warden.js (re-exec with the flag)", command: () => process.execPath, args: () => [BIN()] },
  { name: "bin/warden.js as an executable", command: () => BIN(), args: () => [] },
];

for (const way of WAYS) {
  test(`${way.name} serve: starts the server (#18.12)`, async () => {
    const ws = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    await approveAll(ws);
    const transport = new StdioClientTransport({
      command: way.command(),
      args: [...way.args(), "serve", "--config", ws.configPath],
      env: { ...(process.env as Record<string, string>), WARDEN_LOG_LEVEL: "warn" },
      stderr: "pipe",
    });
    const client = new Client({ name: "bin-test", version: "1" });
    await client.connect(transport);
    try {
      const r = await client.callTool({ name: "adder", arguments: { a: 2, b: 5 } });
      assert.deepEqual(r.structuredContent, { sum: 7 });
    } finally {
      await client.close();
    }
  });
}

test("a launcher without a build fails with a message, not silently (#18.12)", () => {
  const root = mkdtempSync(join(tmpdir(), "warden-bin-"));
  mkdirSync(join(root, "bin"));
  copyFileSync(BIN(), join(root, "bin", "warden.js"));
  const r = spawnSync(process.execPath, ["--no-node-snapshot", join(root, "bin", "warden.js"), "serve"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /dist\/src\/cli\/main\.js is missing; run `npm run build`/);
});

test("node --no-node-snapshot bin/warden.js with a bad command exits 2 with usage", () => {
  const r = spawnSync(process.execPath, ["--no-node-snapshot", BIN(), "no-such-command"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command "no-such-command"/);
});
