import type { Logger } from "pino";
import { openAuditLog, startCheckpointer, type AuditLog } from "../audit/index.js";
import { Broker, loadRegistry } from "../broker/index.js";
import { loadConfigFile, type LoadedConfig } from "../config/load.js";
import { createIsolateExecutor, defaultIsolateWorkers } from "../../sandboxes/isolate/index.js";
import type { Executor } from "../../sandboxes/executor.js";
import { lockPathFor, readLock } from "../policy/lock.js";
import type { RuntimeKind } from "../manifest/schema.js";
import { createAlerter, type Alerter } from "../incident/alerts.js";
import { startLiveReload, type LiveReload } from "./live.js";
import { createJournal, journalDirOf, type Journal } from "../journal/index.js";
import { WARDEN_VERSION } from "../version.js";
import type { EngineRuntimes } from "../../sandboxes/docker/runtime-check.js";

const JOURNAL_PRUNE_INTERVAL_MS = 60 * 60 * 1000;

export interface Runtime {
  loaded: LoadedConfig;
  broker: Broker;
  audit: AuditLog;
  alerter: Alerter;
  /** Started by `watch()`: live kill switch, approvals and tool folder changes. */
  live: LiveReload | null;
  watch(): LiveReload;
  close(): Promise<void>;
}

/** Test seams of openRuntime; production passes none. */
export interface OpenRuntimeHooks {
  /** The engine's registered runtimes (default `docker info`); tests inject an engine without runsc. */
  engineRuntimes?: () => Promise<EngineRuntimes>;
}

/** Config → tools → sandboxes → audit → broker. Any problem stops here: never half-configured. */
export async function openRuntime(configPath: string, logger: Logger, hooks: OpenRuntimeHooks = {}): Promise<Runtime> {
  const loaded = await loadConfigFile(configPath);
  const registry = await loadRegistry(loaded);
  const lockFile = lockPathFor(loaded.file);
  const lock = await readLock(lockFile);
  const runtimes = new Set([...registry.tools.values()].map((t) => t.sandbox.runtime));
  const executors: Partial<Record<RuntimeKind, Executor>> = {};
  if (runtimes.has("isolate")) {
    // Workers relative to the cores (#14): each holds ~70 MB and 2 isolates on their own threads.
    const isolate = createIsolateExecutor({ workers: loaded.config.isolate.workers ?? defaultIsolateWorkers(), logger });
    executors.isolate = isolate;
  }
  let brokerRef: Broker | null = null;
  const containerRuntime = loaded.config.container.runtime;
  if (runtimes.has("container") || runtimes.has("mcp-server")) {
    // SPEC §16: an engine without the configured runtime (runsc) stops the start here, naming the fix.
    const { checkContainerRuntime } = await import("../../sandboxes/docker/runtime-check.js");
    const { defaultDocker } = await import("../../sandboxes/docker/engine.js");
    await checkContainerRuntime(containerRuntime, { docker: defaultDocker(), logger, ...(hooks.engineRuntimes ? { engineRuntimes: hooks.engineRuntimes } : {}) }).catch(async (err: unknown) => {
      await Promise.all(Object.values(executors).map((e) => e.close().catch(() => {})));
      throw err;
    });
  }
  // Loaded only when a container or hosted-server tool exists: isolate-only servers never load dockerode.
  const shared = runtimes.has("container") || runtimes.has("mcp-server") ? (await import("../../sandboxes/docker/index.js")).createDockerShared(logger, loaded.config.container.egress) : null;
  if (runtimes.has("container")) {
    const { createContainerExecutor } = await import("../../sandboxes/container/index.js");
    executors.container = createContainerExecutor({
      logger,
      ...(shared ? { docker: shared.docker, serverId: shared.serverId, egress: shared.egress } : {}),
      runtime: containerRuntime,
      ...(loaded.config.container.poolSize !== undefined ? { poolSize: loaded.config.container.poolSize } : {}),
      ...(loaded.config.container.poolMax !== undefined ? { poolMax: loaded.config.container.poolMax } : {}),
      ...(loaded.config.container.poolTotal !== undefined ? { maxIdle: loaded.config.container.poolTotal } : {}),
      networkGrantsFor: (tool) => brokerRef?.getTool(tool.name)?.capabilities.network ?? [],
      envFor: (tool) => brokerRef?.getTool(tool.name)?.secrets ?? {},
      onEgress: (callId, record) => brokerRef?.recordEgress(callId, record),
    });
  }
  if (runtimes.has("mcp-server")) {
    const { createMcpServerExecutor } = await import("../../sandboxes/mcp-server/index.js");
    executors["mcp-server"] = createMcpServerExecutor({
      logger,
      ...(shared ? { docker: shared.docker, serverId: shared.serverId, egress: shared.egress } : {}),
      version: WARDEN_VERSION,
      runtime: containerRuntime,
      maxServers: loaded.config.container.maxHostedServers,
      maxServersPerIdentity: loaded.config.container.maxHostedServersPerIdentity,
      networkGrantsFor: (tool) => brokerRef?.getTool(tool.name)?.capabilities.network ?? [],
      onEgress: (callId, record) => brokerRef?.recordEgress(callId, record),
      onDefinitions: (tool, definitions) => brokerRef?.onServerDefinitions(tool, definitions),
    });
  }
  const audit = await openAuditLog(loaded.config.audit.file, {
    logger,
    ...(loaded.config.audit.maxBytes ? { maxBytes: loaded.config.audit.maxBytes } : {}),
    ...(loaded.config.audit.retainDays ? { retainDays: loaded.config.audit.retainDays } : {}),
    ...(loaded.config.audit.maxRecordBytes ? { maxRecordBytes: loaded.config.audit.maxRecordBytes } : {}),
  });
  const journal = createJournal({
    dir: journalDirOf(loaded),
    volumes: loaded.config.volumes,
    logger,
    ...(loaded.config.journal?.maxBytes ? { maxBytes: loaded.config.journal.maxBytes } : {}),
  });
  const journalPrune = await startJournalPruning(journal, loaded.config.journal?.retainDays, logger);
  const alerter = createAlerter({ webhook: loaded.config.alerts?.webhook, command: loaded.config.alerts?.command, logger, secrets: () => brokerRef?.secretValues() ?? registry.allSecretValues });
  const checkpoints = loaded.config.audit.checkpoint
    ? await startCheckpointer({ log: audit, config: loaded.config.audit.checkpoint, logger, alerter }).catch(async (err: unknown) => {
        await Promise.all([audit.close(), ...Object.values(executors).map((e) => e.close().catch(() => {}))]);
        throw err;
      })
    : null;
  const broker = new Broker({ config: loaded.config, registry, lock, executors, audit, logger, alerter, configFile: loaded.file, journal });
  brokerRef = broker;
  const runtime: Runtime = {
    loaded,
    broker,
    audit,
    alerter,
    live: null,
    watch() {
      runtime.live ??= startLiveReload({ configFile: loaded.file, lockFile, broker, logger, alerter, onReloaded: () => broker.prepare() });
      return runtime.live;
    },
    async close() {
      runtime.live?.close();
      if (journalPrune) clearInterval(journalPrune);
      await Promise.all(Object.values(executors).map((e) => e.close().catch(() => {})));
      await shared?.close().catch(() => {});
      await audit.close();
      await checkpoints?.close(); // after the log: the final checkpoint signs its last record
      await alerter.drain();
    },
  };
  return runtime;
}

/** journal.retainDays (SPEC §14): prune at start, then hourly; a failed pruning is logged, never fatal. */
async function startJournalPruning(journal: Journal, retainDays: number | undefined, logger: Logger): Promise<NodeJS.Timeout | null> {
  if (!retainDays) return null;
  const prune = () =>
    journal.prune(retainDays).catch((err: unknown) => {
      logger.error({ event: "journal.prune_failed", err: (err as Error).message }, "journal: pruning old calls failed");
    });
  await prune();
  return setInterval(prune, JOURNAL_PRUNE_INTERVAL_MS).unref();
}
