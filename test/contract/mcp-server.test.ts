/**
 * The executor contract, run against the mcp-server backend (real Docker): an unmodified MCP server whose
 * tools are the contract's kinds (test/fixtures/mcp-servers/contract). Each kind is its own unit — its own
 * server container, as each container tool is — and the call names the server's tool (`remote`), pinned
 * at a probe the way `warden approve` pins it.
 */
import { LABEL } from "../../sandboxes/docker/index.js";
import type { ExecuteOutcome, Executor, McpServerSandboxTool } from "../../sandboxes/executor.js";
import { createMcpServerExecutor } from "../../sandboxes/mcp-server/index.js";
import { docker } from "../sandboxes/container/fixture.js";
import { CONTRACT_SERVER_DIR, CONTRACT_SERVER_IMAGE, contractServerPins, serverUnit } from "../sandboxes/mcp-server/fixture.js";
import { runExecutorContract, type ContractToolKind } from "./suite.js";

const serverIds = new WeakMap<Executor, string>();
let seq = 0;
/** The server's tools as a probe read them: name → sha256 of the canonical definition (the pin). */
let pins: Map<string, string> | undefined;

const LIMITS: Partial<Record<ContractToolKind, { timeoutMs?: number; memoryMb?: number }>> = {
  "busy-loop": { timeoutMs: 1500 },
  "host-wait": { timeoutMs: 1500 },
  "memory-bomb": { memoryMb: 48 },
};

function unit(kind: ContractToolKind): McpServerSandboxTool {
  return serverUnit(`contract_${kind.replace(/-/g, "_")}`, {
    digest: `sha256:contract-server-${kind}`,
    dir: CONTRACT_SERVER_DIR,
    image: CONTRACT_SERVER_IMAGE,
    owner: "tests@example.invalid",
    limits: { timeoutMs: 20_000, memoryMb: 64, outputBytes: 4096, ...LIMITS[kind] },
  });
}

async function available(): Promise<true | string> {
  const found = await contractServerPins();
  if (typeof found === "string") return found;
  pins = found;
  return true;
}

runExecutorContract({
  name: "mcp-server",
  available,
  async createExecutor() {
    const serverId = `contractmcp${process.pid}x${++seq}`;
    // One server per kind and session: more than the default per-identity bound of 8.
    const executor = createMcpServerExecutor({ docker, serverId, maxServers: 64, maxServersPerIdentity: 64 });
    serverIds.set(executor, serverId);
    return executor;
  },
  toolFor: unit,
  remoteFor(kind) {
    const sha256 = pins?.get(kind);
    if (!sha256) throw new Error(`the contract server lists no tool "${kind}"`);
    return { name: kind, sha256 };
  },
  expectOk(output): ExecuteOutcome {
    // The server answers structuredContent plus the same JSON as one text block; both reach the client and count.
    const content = [{ type: "text" as const, text: JSON.stringify(output) }];
    return { ok: true, output, outputBytes: Buffer.byteLength(JSON.stringify({ content, structuredContent: output }), "utf8"), content };
  },
  async crashSandbox(executor) {
    const serverId = serverIds.get(executor);
    const running = await docker.listContainers({ filters: { label: [`${LABEL.server}=${serverId}`], status: ["running"] } });
    await Promise.all(running.map((c) => docker.getContainer(c.Id).kill({ signal: "SIGKILL" }).catch(() => {})));
  },
  differences: {
    "a second call of the same tool sees no state from the first":
      "a hosted server with lifecycle \"session\" is one long-lived process for the MCP session: its tools keep state between that session's calls by design (SPEC §15); lifecycle \"call\" starts a fresh server per call",
  },
});
