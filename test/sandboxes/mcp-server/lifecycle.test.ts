import assert from "node:assert/strict";
import { waitFor } from "../../helpers/wait.js";
import { test } from "node:test";
import { connectHttp, connectStdio, startHttpServer } from "../../helpers/server.js";
import { TEST_TOKEN_SHA } from "../../helpers/workspace.js";
import { approveFixture, FIXTURE_SECRET, fixtureContainers, fixtureWorkspace, requireServerBackend } from "./fixture.js";

const ENV = { WARDEN_FIXTURE_SECRET: FIXTURE_SECRET };



test("lifecycle session over HTTP: one container per session id, removed when the session ends", async (t) => {
  if (!(await requireServerBackend(t))) return;
  const ws = fixtureWorkspace({ http: { listen: "127.0.0.1:0", tokens: [{ name: "ci", sha256: TEST_TOKEN_SHA }] } });
  await approveFixture(ws.configPath);
  const srv = await startHttpServer(ws.configPath, ENV);
  try {
    const a = await connectHttp(srv.url);
    const b = await connectHttp(srv.url);
    await a.client.callTool({ name: "fx_echo", arguments: { text: "a" } });
    await a.client.callTool({ name: "fx_echo", arguments: { text: "a again" } });
    await b.client.callTool({ name: "fx_echo", arguments: { text: "b" } });
    assert.equal(await fixtureContainers(ws.owner), 2, "one server per session, reused by the session's calls");
    await a.transport.terminateSession();
    await a.close();
    await waitFor(async () => (await fixtureContainers(ws.owner)) === 1, "session a's server to be removed");
    await b.transport.terminateSession();
    await b.close();
    await waitFor(async () => (await fixtureContainers(ws.owner)) === 0, "session b's server to be removed");
  } finally {
    await srv.stop();
  }
});

test("lifecycle call: a fresh container per call, gone after it", async (t) => {
  if (!(await requireServerBackend(t))) return;
  const ws = fixtureWorkspace({}, { lifecycle: "call" });
  await approveFixture(ws.configPath);
  const c = await connectStdio(ws.configPath, { env: ENV });
  try {
    const first = await c.client.callTool({ name: "fx_add", arguments: { a: 1, b: 2 } });
    assert.deepEqual(first.structuredContent, { sum: 3 });
    await waitFor(async () => (await fixtureContainers(ws.owner)) === 0, "the call's container to be removed");
    // State does not survive: mutate in one call, the next call's fresh server lists the approved definition.
    await c.client.callTool({ name: "fx_mutate", arguments: {} });
    const echo = await c.client.callTool({ name: "fx_echo", arguments: { text: "fresh" } });
    assert.deepEqual(echo.content, [{ type: "text", text: "fresh" }]);
  } finally {
    await c.close();
  }
});

test("stdio: the session's server is removed when the client disconnects", async (t) => {
  if (!(await requireServerBackend(t))) return;
  const ws = fixtureWorkspace();
  await approveFixture(ws.configPath);
  const c = await connectStdio(ws.configPath, { env: ENV });
  await c.client.callTool({ name: "fx_echo", arguments: { text: "x" } });
  assert.equal(await fixtureContainers(ws.owner), 1);
  await c.close();
  await waitFor(async () => (await fixtureContainers(ws.owner)) === 0, "the stdio session's server to be removed");
});
