/**
 * The executor contract, run against the mcp-server backend (real Docker): an unmodified MCP server whose
 * tools are the contract's kinds (test/fixtures/mcp-servers/contract). Each kind is its own unit — its own
 * server container, as each container tool is — and the call names the server's tool (`remote`), pinned
 * at a probe the way `warden approve` pins it.
 */
import { join } from "node:path";
import { LABEL } from "../../sandboxes/docker/index.js";
import { buildToolImage } from "../../sandboxes/docker/images.js";
import type { ExecuteOutcome, Executor, McpServerSandboxTool } from "../../sandboxes/executor.js";
import { createMcpServerExecutor, probeServer } from "../../sandboxes/mcp-server/index.js";
import { LIMIT_DEFAULTS } from "../../src/manifest/schema.js";
import { pinOf } from "../../src/policy/pins.js";
import { repoRoot } from "../helpers/paths.js";
import { containerBackendAvailable, docker } from "../sandboxes/container/fixture.js";
import { runExecutorContract, type ContractToolKind } from "./suite.js";

const IMAGE = "warden-test/contract-server:1";
const FOLDER = join(repoRoot(), "test", "fixtures", "mcp-servers", "contract");
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
  return {
    name: `contract_${kind.replace(/-/g, "_")}`,
    version: "1.0.0",
    digest: `sha256:contract-server-${kind}`,
    runtime: "mcp-server",
    dir: FOLDER,
    image: IMAGE,
    command: ["python3", "-u", "/app/server.py"],
    owner: "tests@example.invalid",
    lifecycle: "session",
    limits: { ...LIMIT_DEFAULTS, timeoutMs: 20_000, memoryMb: 64, outputBytes: 4096, ...LIMITS[kind] },
    network: false,
    volumes: [],
  };
}

let image: Promise<true | string> | undefined;
function available(): Promise<true | string> {
  image ??= (async () => {
    const base = await containerBackendAvailable();
    if (base !== true) return base;
    await buildToolImage(docker, FOLDER, IMAGE, () => {});
    const probe = await probeServer(unit("echo"), {}, { docker });
    pins = new Map(probe.definitions.map((d) => [d.name, pinOf(d).sha256]));
    return true as const;
  })().catch((err: unknown) => `contract server image or probe failed: ${(err as Error).message}`);
  return image;
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
