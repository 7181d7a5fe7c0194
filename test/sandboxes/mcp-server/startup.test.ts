/**
 * A hosted server that dies while it starts (killed, out of memory, exits) is a crash of that server,
 * charged to the call that started it (E_SANDBOX_CRASHED / E_MEMORY) — not an engine that cannot run
 * containers (E_SANDBOX_UNAVAILABLE), which an operator would chase in the wrong place.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createMcpServerExecutor } from "../../../sandboxes/mcp-server/index.js";
import { docker } from "../container/fixture.js";
import { createFakeHost } from "../../contract/suite.js";
import { requireServerBackend, serverUnit } from "./fixture.js";

const unit = (command: string[], memoryMb = 64) => serverUnit("dies_at_start", { command, lifecycle: "call", limits: { timeoutMs: 20_000, memoryMb, outputBytes: 4096 } });

describe("a hosted server that dies during its start-up", () => {
  for (const [what, command, memoryMb, code] of [
    ["exits at once", ["python3", "-c", "import sys; sys.exit(3)"], 64, "E_SANDBOX_CRASHED"],
    ["runs out of memory before it answers initialize", ["python3", "-c", "x = [bytearray(4 << 20) for _ in range(1000)]"], 32, "E_MEMORY"],
  ] as const) {
    test(`${what}: ${code}`, async (t) => {
      if (!(await requireServerBackend(t))) return;
      const executor = createMcpServerExecutor({ docker, serverId: `startup${process.pid}` });
      try {
        const outcome = await executor.execute({
          callId: "startup-1",
          tool: unit([...command], memoryMb),
          remote: { name: "echo", sha256: "0".repeat(64) },
          input: {},
          env: {},
          host: createFakeHost(),
          signal: new AbortController().signal,
        });
        assert.equal(outcome.ok ? "ok" : outcome.error.code, code, JSON.stringify(outcome));
      } finally {
        await executor.close();
      }
    });
  }
});
