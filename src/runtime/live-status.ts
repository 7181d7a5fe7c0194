import { rmSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * What a running server has applied, for `warden disable` to report (#19.2):
 * the command used to print success while the server had refused the reload.
 * Each server process writes its own file beside the config (several stdio
 * servers may share one config); it is removed at shutdown.
 */
export interface LiveStatus {
  pid: number;
  /** sha256 of the config file bytes the server's state was last built from (fully or kill switch only). */
  configSha256: string | null;
  /** The kill switch in force: `disabled` as applied. */
  disabled: string[];
  /** true when the live state matches the files: config, tool folders and lock all applied. */
  inSync: boolean;
  /** Why it does not, when it does not. */
  problem: string | null;
  /** Tool folders that failed to load: those tools are not served. */
  withheld: string[];
  at: string;
}

/** A running server rewrites its status this often; one older than STATUS_STALE_MS is a dead server's. */
export const STATUS_HEARTBEAT_MS = 10_000;
const STATUS_STALE_MS = 3 * STATUS_HEARTBEAT_MS;

export function liveStatusDir(configFile: string): string {
  return join(dirname(configFile), ".warden-live");
}

export async function writeLiveStatus(configFile: string, status: LiveStatus): Promise<void> {
  const dir = liveStatusDir(configFile);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const file = join(dir, `${status.pid}.json`);
  const tmp = `${file}.tmp`;
  // Never through a planted link: the temporary file is created, not opened.
  await rm(tmp, { force: true });
  await writeFile(tmp, JSON.stringify(status) + "\n", { flag: "wx" });
  await rename(tmp, file);
}

/** Synchronous: it runs at shutdown, right before the process exits. */
export function removeLiveStatus(configFile: string, pid = process.pid): void {
  try {
    rmSync(join(liveStatusDir(configFile), `${pid}.json`), { force: true });
  } catch {
    // a read-only folder: the file of a dead process is ignored by readers
  }
}

/**
 * Statuses of server processes that are still running. A file whose pid is
 * gone, or that was not refreshed lately (a server killed with SIGKILL, or one
 * in another pid namespace — a container — whose pid means nothing here), is ignored.
 */
export async function readLiveStatuses(configFile: string): Promise<LiveStatus[]> {
  const dir = liveStatusDir(configFile);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: LiveStatus[] = [];
  for (const name of names) {
    const m = /^(\d+)\.json$/.exec(name);
    if (!m || !isRunning(Number(m[1]))) continue;
    try {
      const status = JSON.parse(await readFile(join(dir, name), "utf8")) as LiveStatus;
      if (Date.now() - Date.parse(status.at) <= STATUS_STALE_MS) out.push(status);
    } catch {
      // written by rename, so never half a file; unreadable ⇒ that server cannot be asked
    }
  }
  return out;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Waits until every running server of this config reports `applied`, or the
 * time is up. Returns the servers found and those that did not apply it.
 */
export async function waitForServers(configFile: string, applied: (s: LiveStatus) => boolean, timeoutMs: number): Promise<{ servers: LiveStatus[]; behind: LiveStatus[] }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const servers = await readLiveStatuses(configFile);
    const behind = servers.filter((s) => !applied(s));
    if (behind.length === 0 || Date.now() >= end) return { servers, behind };
    await new Promise((r) => setTimeout(r, 100));
  }
}
