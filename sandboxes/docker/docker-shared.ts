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
import { startReaper, type Reaper } from "./reaper.js";

export interface DockerShared {
  docker: Dockerode;
  serverId: string;
  egress: EgressGateway;
  /** The server's one reaper loop (startup pass + periodic); backends given this bundle run none of their own. */
  reaper: Reaper;
  close(): Promise<void>;
}

/** Config `container.egress`: a mode, or `{mode?, refuse}`. */
export type EgressConfig = EgressMode | { mode?: EgressMode; refuse?: string[] } | undefined;

export function createDockerShared(logger?: Logger, egressConfig?: EgressConfig, options: { reapIntervalMs?: number } = {}): DockerShared {
  const docker = defaultDocker();
  const serverId = randomBytes(6).toString("hex");
  const { mode, refuse } = typeof egressConfig === "string" ? { mode: egressConfig, refuse: [] } : (egressConfig ?? {});
  const egress = new EgressGateway({ docker, serverId, authorize: authorizeEgress, logger, ...(mode ? { mode } : {}), ...(refuse ? { refuse } : {}) });
  logger?.debug({ mode: egress.mode }, "egress mode");
  const reaper = startReaper(docker, serverId, options.reapIntervalMs ?? 60_000, logger);
  return {
    docker,
    serverId,
    egress,
    reaper,
    close: async () => {
      reaper.stop();
      await reaper.firstPass;
      await egress.close();
    },
  };
}
