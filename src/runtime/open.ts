import type { Logger } from "pino";
import { openAuditLog, type AuditLog } from "../audit/index.js";
import { Broker, loadRegistry } from "../broker/index.js";
import { loadConfigFile, type LoadedConfig } from "../config/load.js";
import { createIsolateExecutor } from "../../sandboxes/isolate/index.js";
import type { Executor } from "../../sandboxes/executor.js";

export interface Runtime {
  loaded: LoadedConfig;
  broker: Broker;
  audit: AuditLog;
  close(): Promise<void>;
}

/** Config → tools → sandboxes → audit → broker. Any problem stops here: never half-configured. */
export async function openRuntime(configPath: string, logger: Logger): Promise<Runtime> {
  const loaded = await loadConfigFile(configPath);
  const registry = await loadRegistry(loaded);
  const runtimes = new Set([...registry.tools.values()].map((t) => t.sandbox.runtime));
  const executors: Partial<Record<"isolate" | "container", Executor>> = {};
  if (runtimes.has("isolate")) executors.isolate = createIsolateExecutor({ workers: loaded.config.isolate.workers, logger });
  if (runtimes.has("container")) {
    const container = await openContainerExecutor(loaded, registry, logger);
    if (container) executors.container = container;
  }
  const audit = await openAuditLog(loaded.config.audit.file, {
    logger,
    ...(loaded.config.audit.maxBytes ? { maxBytes: loaded.config.audit.maxBytes } : {}),
    ...(loaded.config.audit.retainDays ? { retainDays: loaded.config.audit.retainDays } : {}),
  });
  const broker = new Broker({ config: loaded.config, registry, executors, audit, logger });
  return {
    loaded,
    broker,
    audit,
    async close() {
      await Promise.all(Object.values(executors).map((e) => e.close().catch(() => {})));
      await audit.close();
    },
  };
}

async function openContainerExecutor(_loaded: LoadedConfig, _registry: unknown, logger: Logger): Promise<Executor | null> {
  logger.warn("container tools are configured but the container backend is not wired yet; they answer E_SANDBOX_UNAVAILABLE");
  return null;
}
