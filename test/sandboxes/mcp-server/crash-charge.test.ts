/**
 * Review of #15 (91dbfdf): a hosted server that dies during its start-up is now E_SANDBOX_CRASHED — which
 * the broker counts toward auto-quarantine FOR EVERYBODY (quarantine.ts: crashes) and alerts on
 * (broker.ts applyVerdict: sandbox_crash). Before #15 it was E_SANDBOX_UNAVAILABLE, never counted. Every call
 * waiting on that one start gets it, none marked `collateral`, so ONE failed start of a session's server is
 * charged once per waiting call: with `quarantine.crashes: 3`, three parallel first calls of one client (an
 * everyday pattern) switch the tool off for every tenant. The executor contract (sandboxes/executor.ts) says a
 * failure is charged to the call that caused it and others end `collateral: true`. The same holds for calls
 * in flight when one call crashes the session's server (this part predates #15).
 * Real Docker, the fixture server image.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ExecuteOutcome } from "../../../sandboxes/executor.js";
import { createMcpServerExecutor, probeServer } from "../../../sandboxes/mcp-server/index.js";
import { pinOf } from "../../../src/policy/pins.js";
import { createFakeHost } from "../../contract/suite.js";
import { docker } from "../container/fixture.js";
import { requireServerBackend, serverUnit } from "./fixture.js";

const unit = (name: string, command: string[]) => serverUnit(name, { command });

/** The crash events the broker would count for these outcomes (E_SANDBOX_CRASHED not marked collateral). */
const charged = (outcomes: ExecuteOutcome[]) => outcomes.filter((o) => !o.ok && o.error.code === "E_SANDBOX_CRASHED" && !o.collateral).length;

describe("one hosted server's death is charged once", () => {
  test("three calls waiting on one start that dies: at most one crash is counted", async (t) => {
    if (!(await requireServerBackend(t))) return;
    const executor = createMcpServerExecutor({ docker, serverId: `crashcharge${process.pid}a` });
    try {
      const tool = unit("dies_at_start_session", ["python3", "-c", "import sys, time; time.sleep(0.5); sys.exit(3)"]);
      const outcomes = await Promise.all(
        [1, 2, 3].map((i) =>
          executor.execute({ callId: `start-${i}`, tool, remote: { name: "echo", sha256: "0".repeat(64) }, input: {}, env: {}, host: createFakeHost(), signal: new AbortController().signal, session: "s1", actor: "tenant-a" }),
        ),
      );
      assert.ok(outcomes.every((o) => !o.ok), JSON.stringify(outcomes));
      assert.ok(charged(outcomes) <= 1, `one failed start was charged ${charged(outcomes)} times: ${JSON.stringify(outcomes.map((o) => (o.ok ? "ok" : o.error.code)))}`);
    } finally {
      await executor.close();
    }
  });

  test("one call crashes the session's server: the calls in flight beside it are collateral", async (t) => {
    if (!(await requireServerBackend(t))) return;
    const executor = createMcpServerExecutor({ docker, serverId: `crashcharge${process.pid}b` });
    try {
      const tool = unit("crash_beside", ["python3", "-u", "/app/server.py"]);
      const probe = await probeServer(tool, {}, { docker });
      const pin = (name: string) => pinOf(probe.definitions.find((d) => d.name === name)!).sha256;
      const call = (callId: string, name: string) =>
        executor.execute({ callId, tool, remote: { name, sha256: pin(name) }, input: {}, env: {}, host: createFakeHost(), signal: new AbortController().signal, session: "s1", actor: "tenant-a" });
      const warm = await executor.execute({ callId: "warm", tool, remote: { name: "add", sha256: pin("add") }, input: { a: 1, b: 2 }, env: {}, host: createFakeHost(), signal: new AbortController().signal, session: "s1", actor: "tenant-a" });
      assert.equal(warm.ok, true, JSON.stringify(warm));
      const hanging = [call("hang-1", "hang"), call("hang-2", "hang")];
      await new Promise((r) => setTimeout(r, 300));
      const crash = await call("crash-1", "crash");
      const outcomes = [crash, ...(await Promise.all(hanging))];
      assert.ok(outcomes.every((o) => !o.ok), JSON.stringify(outcomes));
      assert.ok(charged(outcomes) <= 1, `one crash was charged ${charged(outcomes)} times: ${JSON.stringify(outcomes.map((o) => (o.ok ? "ok" : `${o.error.code}${o.collateral ? " (collateral)" : ""}`)))}`);
    } finally {
      await executor.close();
    }
  });
});
