/**
 * One writer per audit file across processes. Two processes appending to the
 * same file would each write "seq N after hash H": a forked chain that
 * `warden audit verify` must call broken. The in-process check in
 * open-audit-log.ts cannot see another process; this lock file can.
 *
 * `<file>.lock` holds the writer's pid. It is created atomically with its
 * content (written to a temp file, then link(2)ed into place, which fails
 * with EEXIST like O_EXCL), so a reader never sees an empty lock. A lock whose
 * pid is dead (a crashed or SIGKILLed server) is stale and taken over.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { WardenError } from "../errors.js";

export interface ProcessLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Synchronous so it can run from close() and exit paths. */
  release(): void;
}

export function lockPathOf(file: string): string {
  return `${file}.lock`;
}

/** Takes `<file>.lock` or throws E_AUDIT "held by pid N" (details.heldBy = N) when a live process holds it. */
export async function acquireProcessLock(file: string): Promise<ProcessLock> {
  const path = lockPathOf(file);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await tryCreate(path)) return { path, release: () => releaseIfOurs(path) };
    const holder = await readHolder(path);
    if (holder === undefined) continue; // vanished between our link and our read: try again
    if (holder !== null && isAlive(holder)) {
      throw new WardenError(
        "E_AUDIT",
        `the audit log ${file} is held by pid ${holder} (another warden process writes it; a second writer would fork the hash chain)`,
        { heldBy: holder },
      );
    }
    await breakStaleLock(path, holder);
  }
  throw new WardenError("E_AUDIT", `cannot take the audit lock ${path}: it keeps changing (several processes starting at once?)`);
}

/** The live pid holding the lock on `file`, or null when nobody (alive) does. */
export async function liveLockHolder(file: string): Promise<number | null> {
  const holder = await readHolder(lockPathOf(file));
  return holder !== null && holder !== undefined && isAlive(holder) ? holder : null;
}

async function tryCreate(path: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, `${process.pid}\n`, { mode: 0o644 });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** pid in the lock; null when unreadable garbage (treated as stale); undefined when the file is gone. */
async function readHolder(path: string): Promise<number | null | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

/** Signal 0 checks existence only. EPERM: it exists but belongs to another user — alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Two processes may find the same stale lock. Renaming it away is atomic, but
 * the loser could then move the winner's fresh lock; so after the rename the
 * moved file is checked: if it is not the stale pid we judged, it goes back.
 */
async function breakStaleLock(path: string, stalePid: number | null): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const moved = await readHolder(aside);
  if (moved !== stalePid && moved !== null && moved !== undefined && isAlive(moved)) {
    await link(aside, path).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}

function releaseIfOurs(path: string): void {
  try {
    if (Number(readFileSync(path, "utf8").trim()) === process.pid) unlinkSync(path);
  } catch {
    // Already gone (or unreadable): nothing of ours to remove.
  }
}
