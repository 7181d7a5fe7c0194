import type { Logger } from "pino";
import { openAuditLog, type AuditLog } from "../audit/index.js";
import { Broker, loadRegistry } from "../broker/index.js";
import { loadConfigFile, type LoadedConfig } from "../config/load.js";
import { createIsolateExecutor } from "../../sandboxes/isolate/index.js";
import type { Executor } from "../../sandboxes/executor.js";
import { lockPathFor, readLock } from "../policy/lock.js";
import { startLiveReload, type LiveReload } from "./live.js";

export interface Runtime {
  loaded: LoadedConfig;
  broker: Broker;
  audit: AuditLog;
  /** Started by `watch()`: live kill switch, approvals and tool folder changes. */
  live: LiveReload | null;
  watch(): LiveReload;
  close(): Promise<void>;
}

/** Config → tools → sandboxes → audit → broker. Any problem stops here: never half-configured. */
export async function openRuntime(configPath: string, logger: Logger): Promise<Runtime> {
  const loaded = await loadConfigFile(configPath);
  const registry = await loadRegistry(loaded);
  const lockFile = lockPathFor(loaded.file);
  const lock = await readLock(lockFile);
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
  const broker = new Broker({ config: loaded.config, registry, lock, executors, audit, logger });
  const runtime: Runtime = {
    loaded,
    broker,
    audit,
    live: null,
    watch() {
      runtime.live ??= startLiveReload({ configFile: loaded.file, lockFile, broker, logger, onReloaded: () => broker.prepare() });
      return runtime.live;
    },
    async close() {
      runtime.live?.close();
      await Promise.all(Object.values(executors).map((e) => e.close().catch(() => {})));
      await audit.close();
    },
  };
  return runtime;
}

async function openContainerExecutor(_loaded: LoadedConfig, _registry: unknown, logger: Logger): Promise<Executor | null> {
  logger.warn("container tools are configured but the container backend is not wired yet; they answer E_SANDBOX_UNAVAILABLE");
  return null;
}
