/**
 * SPEC §16 for hosted MCP servers, end to end: `container.runtime` in the
 * config → `warden serve` → the mcp-server backend → the session's server
 * container, read back with `docker inspect`. Runs under the runtime of
 * WARDEN_TEST_CONTAINER_RUNTIME (.ci/run: runc in npm test, then runsc).
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { connectStdio } from "../../helpers/server.js";
import { docker, TEST_RUNTIME } from "../container/fixture.js";
import { approveFixture, FIXTURE_SECRET, fixtureWorkspace, mcpServerBackendAvailable } from "./fixture.js";

async function requireServerBackend(t: TestContext): Promise<boolean> {
  const available = await mcpServerBackendAvailable();
  if (available === true) return true;
  if (process.env.CI === "true") throw new Error(`Docker is required in CI: ${available}`);
  console.error(`\n*** SKIPPING hosted MCP server test "${t.name}": ${available} ***\n`);
  t.skip(`Docker unavailable: ${available}`);
  return false;
}

test(`a hosted server started by warden serve runs under container.runtime (${TEST_RUNTIME})`, async (t) => {
  if (!(await requireServerBackend(t))) return;
  const ws = fixtureWorkspace({ container: { runtime: TEST_RUNTIME } });
  await approveFixture(ws.configPath);
  const c = await connectStdio(ws.configPath, { env: { WARDEN_FIXTURE_SECRET: FIXTURE_SECRET, WARDEN_LOG_LEVEL: "debug" } });
  try {
    const echo = await c.client.callTool({ name: "fx_echo", arguments: { text: "under the configured runtime" } });
    assert.deepEqual(echo.content, [{ type: "text", text: "under the configured runtime" }], c.stderr());
    // The session's server is alive until the client disconnects. Other suites host "fixture" servers too:
    // this one is the container that mounts this workspace's own volume.
    const candidates = await docker.listContainers({ all: true, filters: { label: ["warden.tool=fixture"] } });
    const ours = [];
    for (const found of candidates) {
      const info = await docker.getContainer(found.Id).inspect().catch(() => null);
      if (info?.Mounts.some((m) => m.Source === ws.conf)) ours.push(info);
    }
    assert.equal(ours.length, 1, "exactly one server container for this session");
    assert.equal(ours[0]!.HostConfig.Runtime, TEST_RUNTIME);
  } finally {
    await c.close();
  }
});
