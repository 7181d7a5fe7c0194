/**
 * The registry of sandbox backends: one entry per runtime of RUNTIMES (src/manifest/schema.ts), so a runtime
 * without a backend (or a backend without a runtime) does not compile. A backend's code is loaded only
 * when the configuration has a tool of its runtime: an isolate-only server never loads dockerode.
 *
 * A fourth backend: add its name to RUNTIMES, a folder under sandboxes/ implementing `Executor`
 * (sandboxes/executor.ts), a variant of `SandboxTool`, and an entry here; run test/contract/suite.ts
 * against it with its documented differences.
 */
import type { Logger } from "pino";
import type { LoadedConfig } from "../config/load.js";
import type { RuntimeKind } from "../manifest/schema.js";
import type { Executor } from "../../sandboxes/executor.js";
import type { DockerShared } from "../../sandboxes/docker/index.js";
import { WARDEN_VERSION } from "../version.js";

export interface BackendContext {
  loaded: LoadedConfig;
  logger: Logger;
  /** The server's one Docker bundle (engine, server id, egress gateway), made on first use; Docker backends only. */
  docker(): Promise<DockerShared>;
}

export interface Backend {
  /** Runs on a Docker engine: the engine's OCI runtime is checked before the first Docker backend opens (SPEC §16). */
  docker: boolean;
  open(ctx: BackendContext): Promise<Executor>;
}

export const BACKENDS: Readonly<Record<RuntimeKind, Backend>> = {
  isolate: {
    docker: false,
    async open({ loaded, logger }) {
      const { createIsolateExecutor, defaultIsolateWorkers } = await import("../../sandboxes/isolate/index.js");
      // Workers relative to the cores (#14): each holds ~70 MB and 2 isolates on their own threads.
      return createIsolateExecutor({ workers: loaded.config.isolate.workers ?? defaultIsolateWorkers(), logger });
    },
  },
  container: {
    docker: true,
    async open({ loaded, logger, docker }) {
      const { createContainerExecutor } = await import("../../sandboxes/container/index.js");
      const shared = await docker();
      const c = loaded.config.container;
      return createContainerExecutor({
        logger,
        shared,
        runtime: c.runtime,
        ...(c.poolSize !== undefined ? { poolSize: c.poolSize } : {}),
        ...(c.poolMax !== undefined ? { poolMax: c.poolMax } : {}),
        ...(c.poolTotal !== undefined ? { maxIdle: c.poolTotal } : {}),
      });
    },
  },
  "mcp-server": {
    docker: true,
    async open({ loaded, logger, docker }) {
      const { createMcpServerExecutor } = await import("../../sandboxes/mcp-server/index.js");
      const shared = await docker();
      const c = loaded.config.container;
      return createMcpServerExecutor({
        logger,
        shared,
        version: WARDEN_VERSION,
        runtime: c.runtime,
        maxServers: c.maxHostedServers,
        maxServersPerIdentity: c.maxHostedServersPerIdentity,
      });
    },
  },
};
