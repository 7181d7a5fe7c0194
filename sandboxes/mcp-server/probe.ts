/**
 * `warden approve` of a hosted server: start it in its sandbox exactly as a
 * call would (same hardening, volumes and secrets; no network), read its
 * tools, stop it. What the operator pins is what the server lists here.
 */
import type Dockerode from "dockerode";
import { randomBytes } from "node:crypto";
import type { ServerToolDefinition } from "../../src/policy/pins.js";
import { containerSpec, directLaunch } from "../docker/container-spec.js";
import { defaultDocker, engineCall } from "../docker/engine.js";
import type { ContainerRuntime } from "../docker/runtime-spec.js";
import { inspectToolImage } from "../docker/image-config.js";
import type { McpServerSandboxTool } from "../executor.js";
import { HostedServer } from "./hosted-server.js";
import { STARTUP_BUDGET_MS } from "./mcp-server-executor.js";

export interface ProbeResult {
  imageId: string;
  definitions: ServerToolDefinition[];
}

export async function probeServer(tool: McpServerSandboxTool, env: Record<string, string>, options: { docker?: Dockerode; version?: string; runtime?: ContainerRuntime } = {}): Promise<ProbeResult> {
  const docker = options.docker ?? defaultDocker();
  const info = await engineCall("inspect image", docker.getImage(tool.image).inspect());
  const image = await inspectToolImage(docker, info.Id);
  const spec = containerSpec({ tool: { ...tool, network: false }, env, serverId: `probe-${randomBytes(4).toString("hex")}`, callId: "approve", image, launch: directLaunch, runtime: options.runtime });
  const server = await HostedServer.start(
    { docker, spec: { ...spec, StdinOnce: false }, maxLineBytes: 16 * 1024 * 1024, name: tool.name, version: options.version ?? "0" },
    AbortSignal.timeout(STARTUP_BUDGET_MS),
  );
  try {
    return { imageId: info.Id, definitions: server.definitions };
  } finally {
    await server.close();
  }
}
