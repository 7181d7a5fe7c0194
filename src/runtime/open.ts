import type { Logger } from "pino";
import { openAuditLog, startCheckpointer, type AuditLog } from "../audit/index.js";
import { Broker, loadRegistry } from "../broker/index.js";
import { loadConfigFile, type LoadedConfig } from "../config/load.js";
import type { Executor } from "../../sandboxes/executor.js";
import { lockPathFor, readLock } from "../policy/lock.js";
import type { RuntimeKind } from "../manifest/schema.js";
import { createAlerter, type Alerter } from "../incident/alerts.js";
import { startLiveReload, type LiveReload } from "./live.js";
import { createJournal, journalDirOf, type Journal } from "../journal/index.js";
import type { EngineRuntimes } from "../../sandboxes/docker/runtime-check.js";
import type { DockerShared } from "../../sandboxes/docker/index.js";
import { BACKENDS } from "./backends.js";

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
  const runtimes = [...new Set([...registry.tools.values()].map((t) => t.sandbox.runtime))];
  const executors: Partial<Record<RuntimeKind, Executor>> = {};
  // Made on first use by a Docker backend (the closure below); closed with the executors.
  const bundle: { shared?: DockerShared } = {};
  const closeShared = async (): Promise<void> => {
    await bundle.shared?.close().catch(() => {});
  };
  const closeExecutors = () => Promise.all(Object.values(executors).map((e) => e.close().catch(() => {})));
  try {
    if (runtimes.some((r) => BACKENDS[r].docker)) {
      // SPEC §16: an engine without the configured runtime (runsc) stops the start here, naming the fix.
      const { checkContainerRuntime } = await import("../../sandboxes/docker/runtime-check.js");
      const { defaultDocker } = await import("../../sandboxes/docker/engine.js");
      await checkContainerRuntime(loaded.config.container.runtime, { docker: defaultDocker(), logger, ...(hooks.engineRuntimes ? { engineRuntimes: hooks.engineRuntimes } : {}) });
    }
    // One Docker bundle per server, shared by every Docker backend: one network, proxy and firewall rule set.
    const docker = async (): Promise<DockerShared> => (bundle.shared ??= (await import("../../sandboxes/docker/index.js")).createDockerShared(logger, loaded.config.container.egress));
    for (const runtime of runtimes) executors[runtime] = await BACKENDS[runtime].open({ loaded, logger, docker });
  } catch (err) {
    await closeExecutors();
    await closeShared();
    throw err;
  }
  // Alerts redact the secrets in force when they are raised: the registry's until the broker (which reloads it) exists.
  let secretsNow = (): readonly string[] => registry.allSecretValues;
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
  const alerter = createAlerter({ webhook: loaded.config.alerts?.webhook, command: loaded.config.alerts?.command, logger, secrets: () => secretsNow() });
  const checkpoints = loaded.config.audit.checkpoint
    ? await startCheckpointer({ log: audit, config: loaded.config.audit.checkpoint, logger, alerter }).catch(async (err: unknown) => {
        await Promise.all([audit.close(), closeExecutors()]);
        await closeShared();
        throw err;
      })
    : null;
  const broker = new Broker({ config: loaded.config, registry, lock, executors, audit, logger, alerter, configFile: loaded.file, journal });
  secretsNow = () => broker.secretValues();
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
      await closeExecutors();
      await closeShared();
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
