/**
 * Review of #15 (0874ec8): "a call racing close() started a server nobody stopped" — held. The contract
 * suite's close() test checks the call's code; this one checks what is left: a call whose server is starting
 * when close() runs ends E_CANCELLED and no container of the executor remains (with the guard in slotFor
 * removed, the call starts a second server after close() and runs into its 20 s deadline). Real Docker, the
 * contract server image.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { LABEL } from "../../../sandboxes/docker/index.js";
import { createMcpServerExecutor } from "../../../sandboxes/mcp-server/index.js";
import { createFakeHost } from "../../contract/suite.js";
import { docker } from "../container/fixture.js";
import { CONTRACT_SERVER_DIR, CONTRACT_SERVER_IMAGE, contractServerPins, requireReady, serverUnit } from "./fixture.js";

const unit = serverUnit("close_race", { dir: CONTRACT_SERVER_DIR, image: CONTRACT_SERVER_IMAGE, limits: { timeoutMs: 20_000, outputBytes: 4096 } });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("close() while a call's server starts", () => {
  let pins: Map<string, string> | undefined;
  let ready: Promise<true | string>;
  before(() => {
    ready = contractServerPins().then((p) => (typeof p === "string" ? p : ((pins = p), true as const)));
  });

  test("the call ends E_CANCELLED and no container of the executor is left", async (t) => {
    if (!(await requireReady(t, ready, "hosted MCP server"))) return;
    const serverId = `closerace${process.pid}`;
    const executor = createMcpServerExecutor({ docker, serverId });
    const mine = () => docker.listContainers({ all: true, filters: { label: [`${LABEL.server}=${serverId}`] } });
    try {
      const pending = executor.execute({ callId: "race-1", tool: unit, remote: { name: "slow", sha256: pins!.get("slow")! }, input: {}, env: {}, host: createFakeHost(), signal: new AbortController().signal, session: "s1", actor: "tester" });
      // The server's container exists: its start is under way (initialize, tools/list still to come).
      for (let i = 0; i < 200 && (await mine()).length === 0; i++) await sleep(25);
      assert.equal((await mine()).length, 1, "the call's server container was created");
      await executor.close();
      const outcome = await pending;
      assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_CANCELLED", JSON.stringify(outcome));
      // A server started after close() would still be there (nobody stops it); give a late start time to show up.
      let left = await mine();
      for (let i = 0; i < 40 && left.length === 0; i++) {
        await sleep(50);
        left = await mine();
      }
      assert.deepEqual(left.map((c) => `${c.Id.slice(0, 12)} ${c.State}`), [], "close() left a hosted server running");
    } finally {
      await executor.close();
      for (const c of await mine()) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
  });
});
