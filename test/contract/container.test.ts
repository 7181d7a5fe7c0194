/** The executor contract, run unchanged against the container backend (real Docker). */
import { createContainerExecutor } from "../../sandboxes/container/index.js";
import { LABEL } from "../../sandboxes/docker/index.js";
import type { Executor } from "../../sandboxes/executor.js";
import { containerBackendAvailable, docker, fixtureTool } from "../sandboxes/container/fixture.js";
import { runExecutorContract, type ContractToolKind } from "./suite.js";

const serverIds = new WeakMap<Executor, string>();
let seq = 0;

const LIMITS: Partial<Record<ContractToolKind, { timeoutMs?: number; memoryMb?: number }>> = {
  "busy-loop": { timeoutMs: 1500 },
  "host-wait": { timeoutMs: 1500 },
  "memory-bomb": { memoryMb: 32 },
};

runExecutorContract({
  name: "container",
  available: containerBackendAvailable,
  async createExecutor() {
    const serverId = `contract${process.pid}x${++seq}`;
    const executor = createContainerExecutor({ docker, serverId, poolSize: 1, reapIntervalMs: 0 });
    serverIds.set(executor, serverId);
    return executor;
  },
  toolFor(kind) {
    // The fixture's "stderr" kind writes `line i` to stderr, which the container backend turns into log lines.
    const tool = fixtureTool(kind === "logs" ? "stderr" : kind);
    return { ...tool, limits: { ...tool.limits, ...LIMITS[kind] } };
  },
  async crashSandbox(executor) {
    // A crash from outside: SIGKILL every running container of this server, as the OOM killer or an operator would.
    const serverId = serverIds.get(executor);
    const running = await docker.listContainers({ filters: { label: [`${LABEL.server}=${serverId}`], status: ["running"] } });
    await Promise.all(running.map((c) => docker.getContainer(c.Id).kill({ signal: "SIGKILL" }).catch(() => {})));
    // The kill also hits idle warm containers; give the executor the moment a real crash would give it to
    // see their streams close, so the suite's next call is served by a live container (the pool skips dead ones).
    await new Promise((r) => setTimeout(r, 500));
  },
});
