/**
 * What every Docker backend of one server shares (SPEC §4, §5, §15): the engine client, the server id
 * that labels its objects, and ONE egress gateway — one internal network, one proxy, one set of host
 * firewall rules — instead of one per backend. Made once in src/runtime, injected into the container and
 * mcp-server executors, closed after both.
 */
import type Dockerode from "dockerode";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { authorizeEgress } from "../../src/capabilities/network/index.js";
import { EgressGateway, type EgressMode } from "./egress-gateway.js";
import { defaultDocker } from "./engine.js";

export interface DockerShared {
  docker: Dockerode;
  serverId: string;
  egress: EgressGateway;
  close(): Promise<void>;
}

/** Config `container.egress`: a mode, or `{mode?, refuse}`. */
export type EgressConfig = EgressMode | { mode?: EgressMode; refuse?: string[] } | undefined;

export function createDockerShared(logger?: Logger, egressConfig?: EgressConfig): DockerShared {
  const docker = defaultDocker();
  const serverId = randomBytes(6).toString("hex");
  const { mode, refuse } = typeof egressConfig === "string" ? { mode: egressConfig, refuse: [] } : (egressConfig ?? {});
  const egress = new EgressGateway({ docker, serverId, authorize: authorizeEgress, logger, ...(mode ? { mode } : {}), ...(refuse ? { refuse } : {}) });
  logger?.debug({ mode: egress.mode }, "egress mode");
  return { docker, serverId, egress, close: () => egress.close() };
}
