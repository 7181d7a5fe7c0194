import { open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../logger.js";
import { isCallId } from "./call-id.js";
import { syncDir, toolOfCall, treeBytes } from "./disk.js";
import { CALLS_FILE, readJsonLines, type CallTouch } from "./records.js";
import { errnoOf } from "./volume-walk.js";

export interface PruneResult {
  /** callIds whose folders were removed (they can no longer be rolled back). */
  removed: string[];
  freedBytes: number;
  /** freedBytes by the tool whose calls they were (each tool's journal share, budget.ts). */
  freedByTool: Map<string, number>;
}

/**
 * Retention (SPEC §14, `journal.retainDays`): removes call folders last
 * written more than `retainDays` ago, and their lines in calls.jsonl. Each
 * pruning is logged with the calls removed, so "no journal for call X" is
 * explained. Use `Journal.prune` in the server (it is serialized with
 * recording); this function alone is for when no journal is open.
 */
export async function pruneJournal(dir: string, retainDays: number, logger: Logger, now = Date.now()): Promise<PruneResult> {
  if (!(Number.isFinite(retainDays) && retainDays > 0)) throw new RangeError(`journal.retainDays must be a positive number, got ${String(retainDays)}`);
  const cutoff = now - retainDays * 86_400_000;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return { removed: [], freedBytes: 0, freedByTool: new Map() };
    throw err;
  }
  const removed: string[] = [];
  let freedBytes = 0;
  const freedByTool = new Map<string, number>();
  const free = (tool: string | null, bytes: number) => {
    freedBytes += bytes;
    if (tool !== null) freedByTool.set(tool, (freedByTool.get(tool) ?? 0) + bytes);
  };
  for (const name of names.sort()) {
    if (!isCallId(name)) continue;
    const folder = join(dir, name);
    const info = await stat(folder).catch(() => null);
    // A folder's mtime moves with every pre-image added to it: the call's last change.
    if (!info?.isDirectory() || info.mtimeMs >= cutoff) continue;
    free(await toolOfCall(folder), await treeBytes(folder));
    await rm(folder, { recursive: true, force: true });
    removed.push(name);
  }
  if (removed.length === 0) return { removed, freedBytes, freedByTool };
  for (const [tool, bytes] of await rewriteCallsLog(dir, new Set(removed))) free(tool, bytes);
  await syncDir(dir);
  logger.info(
    { event: "journal.pruned", calls: removed, freedBytes, retainDays },
    `journal: pruned ${removed.length} call(s) older than ${retainDays} days (${freedBytes} bytes); they can no longer be rolled back`,
  );
  return { removed, freedBytes, freedByTool };
}

/** calls.jsonl without the pruned calls' lines, replaced atomically. Returns the bytes saved, by tool. */
async function rewriteCallsLog(dir: string, removed: ReadonlySet<string>): Promise<Map<string, number>> {
  const file = join(dir, CALLS_FILE);
  const saved = new Map<string, number>();
  const before = await stat(file).catch(() => null);
  if (!before) return saved;
  const { lines } = await readJsonLines<CallTouch>(file);
  for (const l of lines) if (removed.has(l.callId)) saved.set(l.tool, (saved.get(l.tool) ?? 0) + Buffer.byteLength(`${JSON.stringify(l)}\n`));
  const kept = lines.filter((l) => !removed.has(l.callId));
  const bytes = Buffer.from(kept.map((l) => `${JSON.stringify(l)}\n`).join(""), "utf8");
  const tmp = `${file}.prune-${process.pid}`;
  const handle = await open(tmp, "w", 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  return saved;
}
