/**
 * Review of #15 (0874ec8, hosted-server.ts GONE_WAIT_MS): a call whose server's connection closed now
 * waits up to 6 s for the engine to say how the server ended — and nothing it listens to ends that wait:
 * neither the call's deadline (timeoutMs) nor its cancellation (client cancel, kill switch, call end).
 * Before #15 such a call answered at once (the server had ended: E_SANDBOX_CRASHED). SPEC/README bound a
 * call at STARTUP_BUDGET_MS + timeoutMs (+ the cancel grace); under a slow engine (here: the post-exit
 * inspect answers late, as under load on these shared cores) the call outlives both its deadline and its
 * cancellation. Real Docker, the contract server image.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type Dockerode from "dockerode";
import { LABEL } from "../../../sandboxes/docker/index.js";
import type { ExecuteOutcome } from "../../../sandboxes/executor.js";
import { CANCEL_GRACE_MS, createMcpServerExecutor, type McpServerExecutor } from "../../../sandboxes/mcp-server/index.js";
import { WardenError } from "../../../src/errors.js";
import { createFakeHost } from "../../contract/suite.js";
import { docker } from "../container/fixture.js";
import { CONTRACT_SERVER_DIR, CONTRACT_SERVER_IMAGE, contractServerPins, requireReady, serverUnit } from "./fixture.js";

const TIMEOUT_MS = 2000;
/** The engine's answer to the inspect after the server's exit comes this late (a loaded engine). */
const SLOW_INSPECT_MS = 8000;

const unit = serverUnit("gone_wait", { dir: CONTRACT_SERVER_DIR, image: CONTRACT_SERVER_IMAGE, limits: { timeoutMs: TIMEOUT_MS, outputBytes: 4096 } });

/** The real engine, except that every container's inspect after its first (the one at start) answers late. */
function slowAfterExit(real: Dockerode): Dockerode {
  const slow = Object.create(real) as Dockerode;
  slow.createContainer = (async (spec: Dockerode.ContainerCreateOptions) => {
    const container = await real.createContainer(spec);
    const inspect = container.inspect.bind(container);
    let n = 0;
    container.inspect = ((...args: unknown[]) =>
      ++n === 1 ? inspect(...(args as [])) : new Promise((r) => setTimeout(r, SLOW_INSPECT_MS)).then(() => inspect(...(args as [])))) as typeof container.inspect;
    return container;
  }) as typeof real.createContainer;
  return slow;
}

describe("a call whose hosted server died waits for the engine's verdict", () => {
  let pins: Map<string, string> | undefined;
  let ready: Promise<true | string>;
  let seq = 0;
  const executors: McpServerExecutor[] = [];

  before(() => {
    ready = contractServerPins().then((p) => (typeof p === "string" ? p : ((pins = p), true as const)));
  });
  after(async () => {
    await Promise.all(executors.map((e) => e.close()));
  });

  /** A session server up (one echo call), then a host-wait call whose server is SIGKILLed under it; `stop` runs after the kill. */
  async function killedUnderCall(stop: (controller: AbortController) => void): Promise<{ outcome: ExecuteOutcome; elapsed: number; sinceStop: number }> {
    const serverId = `gonewait${process.pid}x${++seq}`;
    const executor = createMcpServerExecutor({ docker: slowAfterExit(docker), serverId });
    executors.push(executor);
    const base = { tool: unit, env: {}, host: createFakeHost(), session: "s1", actor: "tester" };
    const warm = await executor.execute({ ...base, callId: `${serverId}-warm`, remote: { name: "echo", sha256: pins!.get("echo")! }, input: { x: 1 }, signal: new AbortController().signal });
    assert.equal(warm.ok, true, JSON.stringify(warm));
    const controller = new AbortController();
    const started = Date.now();
    const pending = executor.execute({ ...base, callId: `${serverId}-wait`, remote: { name: "host-wait", sha256: pins!.get("host-wait")! }, input: {}, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 300));
    const running = await docker.listContainers({ filters: { label: [`${LABEL.server}=${serverId}`], status: ["running"] } });
    assert.equal(running.length, 1, "the session's server runs");
    await docker.getContainer(running[0]!.Id).kill({ signal: "SIGKILL" });
    await new Promise((r) => setTimeout(r, 200));
    const stopAt = Date.now();
    stop(controller);
    const outcome = await pending;
    return { outcome, elapsed: Date.now() - started, sinceStop: Date.now() - stopAt };
  }

  test("the call's deadline still ends it (at most timeoutMs + the cancel grace)", async (t) => {
    if (!(await requireReady(t, ready, "hosted MCP server"))) return;
    const { outcome, elapsed } = await killedUnderCall(() => {});
    assert.equal(outcome.ok, false);
    assert.ok(elapsed <= TIMEOUT_MS + CANCEL_GRACE_MS + 500, `the call ended ${elapsed} ms after it started; its limit is ${TIMEOUT_MS} ms (${JSON.stringify(outcome)})`);
  });

  test("a cancellation (client, kill switch) ends it at once", async (t) => {
    if (!(await requireReady(t, ready, "hosted MCP server"))) return;
    const { outcome, sinceStop } = await killedUnderCall((c) => c.abort(new WardenError("E_DISABLED", "disabled by the operator")));
    assert.equal(outcome.ok, false);
    assert.ok(sinceStop <= 1000, `the call ended ${sinceStop} ms after its cancellation (${JSON.stringify(outcome)})`);
  });
});
