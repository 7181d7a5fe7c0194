import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { Logger } from "pino";
import { loadRegistryPartial, type Broker, type WithheldTool } from "../broker/index.js";
import { loadConfigFile } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { Alerter } from "../incident/alerts.js";
import { readLock } from "../policy/lock.js";
import { STATUS_HEARTBEAT_MS, removeLiveStatus, writeLiveStatus, type LiveStatus } from "./live-status.js";

export interface LiveReload {
  /** Re-reads config, tools and lock now (tests and signals use it). true ⇒ the live state matches the files. */
  reload(): Promise<boolean>;
  /** What is in force now and whether it matches the files. */
  status(): LiveStatus;
  close(): void;
}

export interface LiveReloadOptions {
  configFile: string;
  lockFile: string;
  broker: Broker;
  logger: Logger;
  alerter?: Alerter;
  intervalMs?: number;
  onReloaded?: () => Promise<void>;
}

/** Retry back-off after a failed or partial reload (#18.4): soon at first, then every 10 s. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 10_000;
/** A reload that keeps failing the same way is logged again at most this often. */
const REPEAT_LOG_MS = 60_000;

/**
 * Keeps the running server in step with the operator's files (SPEC §6, §7):
 * an edit of `disabled`, a new approval, or a changed tool file takes effect
 * within a second, without restart.
 *
 * - A tool folder that fails to load withholds that tool only (alerted); the
 *   rest of the new config — `disabled`, grants, tokens, `stdio.allow` — still
 *   applies (#19.2).
 * - A config that cannot be read or parsed leaves the last good state; when
 *   only the tool folders or the lock cannot be read, the kill switch, tokens
 *   and `stdio.allow` of the new config still apply.
 * - Any failure (EMFILE during a descriptor flood, a half-written file) is
 *   retried until the live state matches the files; until then an error line
 *   says so (#18.4) and the status file `warden disable` reads says so too.
 */
export function startLiveReload(options: LiveReloadOptions): LiveReload {
  const { configFile, lockFile, broker, logger } = options;
  let lastStamp = "";
  let toolWatchers: FSWatcher[] = [];
  let pending: Promise<boolean> | null = null;
  let dirty = false;
  let closed = false;
  let retryDelay = 0;
  let retryAt = Infinity;
  let lastProblem: { text: string; at: number } | null = null;
  let alertedWithheld = new Set<string>();
  let current: LiveStatus = {
    pid: process.pid,
    configSha256: null,
    disabled: [...broker.currentConfig.disabled],
    inSync: true,
    problem: null,
    withheld: [],
    at: new Date().toISOString(),
  };

  const stamp = async () => {
    const parts = await Promise.all([configFile, lockFile].map((f) => stat(f).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`, () => "missing")));
    return parts.join("|");
  };

  const watchTools = (dirs: string[]) => {
    for (const w of toolWatchers) w.close();
    toolWatchers = [];
    // A reload that finishes after close() must not leave watchers behind (they would keep the process alive).
    if (closed) return;
    toolWatchers = dirs.flatMap((dir) => {
      try {
        const w = watch(dir, { recursive: true }, () => (dirty = true));
        w.on("error", () => (dirty = true));
        w.unref(); // the server's own handles keep it alive; a watcher never should
        return [w];
      } catch {
        return [];
      }
    });
  };

  const publish = async (next: Omit<LiveStatus, "pid" | "at" | "disabled">) => {
    current = { ...next, pid: process.pid, disabled: [...broker.currentConfig.disabled], at: new Date().toISOString() };
    if (next.inSync) {
      if (lastProblem) logger.info("live state matches the config file again");
      lastProblem = null;
      retryDelay = 0;
      retryAt = Infinity;
    } else {
      retryDelay = Math.min(RETRY_MAX_MS, retryDelay ? retryDelay * 2 : RETRY_FIRST_MS);
      retryAt = Date.now() + retryDelay;
      const text = next.problem ?? "unknown";
      if (!lastProblem || lastProblem.text !== text || Date.now() - lastProblem.at > REPEAT_LOG_MS) {
        lastProblem = { text, at: Date.now() };
        logger.error({ event: "live.out_of_sync", problem: text, retryInMs: retryDelay, withheld: next.withheld }, "reload refused: the live state differs from the config file; retrying");
      }
    }
    if (!closed) await writeLiveStatus(configFile, current).catch((err: unknown) => logger.debug({ err: (err as Error).message }, "live status not written"));
  };

  const alertWithheld = (withheld: WithheldTool[]) => {
    const now = new Set(withheld.map((w) => `${w.dir}\n${w.error.message}`));
    for (const w of withheld) {
      if (alertedWithheld.has(`${w.dir}\n${w.error.message}`)) continue;
      options.alerter?.raise({ kind: "tool_withheld", tool: w.name, owner: null, reason: `the tool folder ${w.dir} failed to load; its tool is not served until it loads again: ${w.error.message}` });
    }
    alertedWithheld = now;
  };

  const doReload = async (): Promise<boolean> => {
    if (closed) return false;
    let sha: string;
    let loaded;
    try {
      sha = sha256(await readFile(configFile));
      loaded = await loadConfigFile(configFile);
    } catch (err) {
      await publish({ configSha256: current.configSha256, inSync: false, problem: `config not applied: ${(err as Error).message}`, withheld: current.withheld });
      return false;
    }
    try {
      const [partial, lock] = await Promise.all([loadRegistryPartial(loaded), readLock(lockFile)]);
      // The file changed while it was read: its bytes and what was applied could differ.
      const again = sha256(await readFile(configFile));
      if (closed) return false;
      broker.update({ config: loaded.config, registry: partial.registry, lock });
      watchTools(partial.dirs);
      alertWithheld(partial.withheld);
      // In the background: a pre-warm that hangs (a stuck engine) must not hold up the next reload.
      void options.onReloaded?.().catch((err: unknown) => logger.warn({ err: (err as Error).message }, "pre-warming after reload failed"));
      const withheld = partial.withheld.map((w) => w.dir);
      const problem = again !== sha ? "the config changed while it was applied" : withheld.length ? `${withheld.length} tool folder(s) failed to load and are withheld` : null;
      await publish({ configSha256: sha, inSync: problem === null, problem, withheld });
      return problem === null;
    } catch (err) {
      if (closed) return false;
      // Tools or lock unreadable: the operator's kill switch, tokens and stdio scope still apply (#19.2).
      broker.update({ config: killSwitchOf(broker.currentConfig, loaded.config) });
      await publish({ configSha256: sha, inSync: false, problem: `tools or lock not reloaded (the kill switch, tokens and stdio.allow were applied): ${(err as Error).message}`, withheld: current.withheld });
      return false;
    }
  };

  // A reload asked for while one runs must see the files as they are *now*:
  // queue exactly one more pass after the running one instead of sharing it.
  let queued: Promise<boolean> | null = null;
  const reload = (): Promise<boolean> => {
    if (!pending) {
      pending = doReload().finally(() => (pending = null));
      return pending;
    }
    queued ??= pending.then(() => {
      queued = null;
      return reload();
    });
    return queued;
  };

  void stamp().then((s) => (lastStamp = s));
  // The state at start, unless a reload has already said more.
  void readFile(configFile).then(
    (bytes) => (current.configSha256 === null && !pending ? publish({ configSha256: sha256(bytes), inSync: true, problem: null, withheld: [] }) : undefined),
    () => {},
  );
  watchTools(broker.toolStates().map((s) => s.tool.loaded.dir));
  const timer = setInterval(async () => {
    if (closed || pending) return;
    const s = await stamp();
    if (s !== lastStamp || dirty || Date.now() >= retryAt) {
      lastStamp = s;
      dirty = false;
      await reload();
    } else if (Date.now() - Date.parse(current.at) >= STATUS_HEARTBEAT_MS) {
      await writeLiveStatus(configFile, { ...current, at: new Date().toISOString() }).catch(() => {});
      current = { ...current, at: new Date().toISOString() };
    }
  }, options.intervalMs ?? 250);
  timer.unref();

  return {
    reload,
    status: () => current,
    close() {
      closed = true;
      clearInterval(timer);
      for (const w of toolWatchers) w.close();
      removeLiveStatus(configFile);
    },
  };
}

/** The operator's access controls (kill switch, tokens, stdio scope): applied even when the tools cannot be reloaded. */
function killSwitchOf(inForce: Config, next: Config): Config {
  return { ...inForce, disabled: next.disabled, http: { ...inForce.http, tokens: next.http.tokens }, stdio: next.stdio };
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
