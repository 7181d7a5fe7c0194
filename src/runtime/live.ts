import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import type { Logger } from "pino";
import { loadRegistry, type Broker } from "../broker/index.js";
import { loadConfigFile } from "../config/load.js";
import { readLock } from "../policy/lock.js";

export interface LiveReload {
  /** Re-reads config, tools and lock now (tests and signals use it). */
  reload(): Promise<boolean>;
  close(): void;
}

/**
 * Keeps the running server in step with the operator's files (SPEC §6, §7):
 * an edit of `disabled`, a new approval, or a changed tool file takes effect
 * within a second, without restart. An invalid edit is refused with a logged
 * error and the last good state stays in force (fail closed: a tool whose
 * files changed loses its approval because its digest changes).
 */
export function startLiveReload(options: { configFile: string; lockFile: string; broker: Broker; logger: Logger; intervalMs?: number; onReloaded?: () => Promise<void> }): LiveReload {
  const { configFile, lockFile, broker, logger } = options;
  let lastStamp = "";
  let toolWatchers: FSWatcher[] = [];
  let pending: Promise<boolean> | null = null;
  let dirty = false;
  let closed = false;

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

  const doReload = async (): Promise<boolean> => {
    if (closed) return false;
    try {
      const loaded = await loadConfigFile(configFile);
      const [registry, lock] = await Promise.all([loadRegistry(loaded), readLock(lockFile)]);
      if (closed) return false;
      broker.update({ config: loaded.config, registry, lock });
      watchTools([...registry.tools.values()].map((t) => t.loaded.dir));
      await options.onReloaded?.();
      return true;
    } catch (err) {
      logger.error({ err: (err as Error).message }, "reload refused: the last good configuration stays in force");
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
  watchTools(broker.toolStates().map((s) => s.tool.loaded.dir));
  const timer = setInterval(async () => {
    if (closed || pending) return;
    const s = await stamp();
    if (s !== lastStamp || dirty) {
      lastStamp = s;
      dirty = false;
      await reload();
    }
  }, options.intervalMs ?? 250);
  timer.unref();

  return {
    reload,
    close() {
      closed = true;
      clearInterval(timer);
      for (const w of toolWatchers) w.close();
    },
  };
}
