/**
 * A hosted server's env (granted secrets) and egress grants are fixed when its container starts. A session's
 * server therefore must not outlive a change of the policy its calls are admitted with: the next call gets a
 * server started with the policy in force, and the old one is stopped at once (an untrusted server can act
 * on its own between calls, with the secrets and grants it was given).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ExecuteRequest } from "../../../sandboxes/executor.js";
import { createMcpServerExecutor, probeServer } from "../../../sandboxes/mcp-server/index.js";
import { pinOf } from "../../../src/policy/pins.js";
import { createFakeHost } from "../../contract/suite.js";
import { waitFor } from "../../helpers/wait.js";
import { docker } from "../container/fixture.js";
import { requireServerBackend, serverUnit } from "./fixture.js";

const unit = serverUnit("policy_fixture");

describe("a session's hosted server and the policy it was started with", () => {
  test("a changed secret or grant gets a new server with the policy in force; the old one is stopped", async (t) => {
    if (!(await requireServerBackend(t))) return;
    const serverId = `policy${process.pid}`;
    const probe = await probeServer(unit, {}, { docker });
    const envTool = probe.definitions.find((d) => d.name === "env");
    assert.ok(envTool, "the fixture lists its env tool");
    const remote = { name: "env", sha256: pinOf(envTool).sha256 };
    const executor = createMcpServerExecutor({ docker, serverId });
    const running = async () => (await docker.listContainers({ filters: { label: [`warden.server=${serverId}`], status: ["running"] } })).map((c) => c.Id);
    const call = async (env: Record<string, string>, network: ExecuteRequest["network"] = []) => {
      const outcome = await executor.execute({ callId: `p-${Math.random()}`, tool: unit, remote, session: "s1", input: { name: "POLICY_VALUE" }, env, network, host: createFakeHost(), signal: new AbortController().signal });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      return outcome.ok ? JSON.stringify(outcome.content) : "";
    };
    try {
      assert.match(await call({ POLICY_VALUE: "first-secret-1" }), /first-secret-1/);
      const first = await running();
      assert.equal(first.length, 1);
      assert.match(await call({ POLICY_VALUE: "first-secret-1" }), /first-secret-1/, "same policy: same server");
      assert.deepEqual(await running(), first);

      // The operator changed the secret: the session's next call must not see the old value.
      assert.match(await call({ POLICY_VALUE: "second-secret-2" }), /second-secret-2/);
      await waitFor(async () => (await running()).length === 1, "the superseded server to be stopped");
      const second = await running();
      assert.notDeepEqual(second, first);

      // A grant change alone starts a new server too (its egress binding is made at start).
      await call({ POLICY_VALUE: "second-secret-2" }, [{ pattern: "https://api.example.com", allowPrivate: false }]);
      await waitFor(async () => (await running()).length === 1, "the superseded server to be stopped");
      assert.notDeepEqual(await running(), second);
    } finally {
      await executor.close();
    }
  });
});
