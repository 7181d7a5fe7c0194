import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { WardenError } from "../errors.js";
import { assertCallId } from "./call-id.js";
import { syncDir } from "./disk.js";
import { appendDurably, CALL_FILE, CALLS_FILE, ENTRIES_FILE, pathsOverlap, POST_FILE, readJsonLines, ROLLED_BACK_FILE, type CallTouch, type JournalEntry, type PostImage } from "./records.js";
import { errnoOf } from "./volume-walk.js";

export interface RolledBack {
  ts: string;
  /** callId of the rollback's own audit record. */
  by: string;
  force: boolean;
}

/** Everything the journal holds about one call. */
export interface CallRecord {
  callId: string;
  tool: string;
  ts: string;
  entries: JournalEntry[];
  /** What the call left at each path it changed, in order (the last line per path counts). */
  posts: PostImage[];
  rolledBack: RolledBack | null;
}

/** A later call that changed a path (or a parent or child of one) that this call changed. */
export interface Conflict {
  callId: string;
  tool: string;
  ts: string;
  /** Tool paths (`/mnt/<volume>/...`) that the later call changed. */
  paths: Array<{ volume: string; path: string }>;
}

/** null when the journal has no folder for this call (it never changed a file, or it was pruned). */
export async function readCallRecord(dir: string, callId: string): Promise<CallRecord | null> {
  assertCallId(callId);
  const folder = join(dir, callId);
  let meta: { callId: string; tool: string; ts: string };
  try {
    meta = JSON.parse((await readFile(join(folder, CALL_FILE), "utf8")).split("\n")[0]!) as typeof meta;
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return null;
    throw new WardenError("E_TOOL_FAILED", `journal: the record of call ${callId} is unreadable (${(err as Error).message})`);
  }
  const { lines } = await readJsonLines<JournalEntry>(join(folder, ENTRIES_FILE));
  let rolledBack: RolledBack | null = null;
  try {
    rolledBack = JSON.parse((await readFile(join(folder, ROLLED_BACK_FILE), "utf8")).split("\n")[0]!) as RolledBack;
  } catch (err) {
    if (errnoOf(err) !== "ENOENT") throw err;
  }
  const posts = (await readJsonLines<PostImage>(join(folder, POST_FILE))).lines;
  return { callId, tool: meta.tool, ts: meta.ts, entries: lines.sort((a, b) => a.seq - b.seq), posts, rolledBack };
}

/**
 * Calls that changed an overlapping path after this call did (calls.jsonl
 * order). Restoring this call's pre-images would silently undo their work.
 * Calls already rolled back are not conflicts: their changes are gone.
 */
export async function findConflicts(dir: string, callId: string): Promise<Conflict[]> {
  const { lines } = await readJsonLines<CallTouch>(join(dir, CALLS_FILE));
  const ours: CallTouch[] = [];
  const found = new Map<string, Conflict>();
  const rolledBack = new Map<string, boolean>();
  for (const line of lines) {
    if (line.callId === callId) {
      ours.push(line);
      continue;
    }
    if (!ours.some((o) => pathsOverlap(o, line))) continue;
    if (!rolledBack.has(line.callId)) rolledBack.set(line.callId, (await readCallRecord(dir, line.callId))?.rolledBack != null);
    if (rolledBack.get(line.callId)) continue;
    const conflict = found.get(line.callId) ?? { callId: line.callId, tool: line.tool, ts: line.ts, paths: [] };
    if (!conflict.paths.some((p) => p.volume === line.volume && p.path === line.path)) conflict.paths.push({ volume: line.volume, path: line.path });
    found.set(line.callId, conflict);
  }
  return [...found.values()];
}

/**
 * A forced rollback overwrote later calls' changes: it goes into the global
 * order like a call, so rolling back one of those later calls afterwards is
 * refused (it would undo this rollback). An unforced rollback is the exact
 * inverse of its call and, like that call, no longer a conflict for anyone.
 */
export async function recordForcedRollback(dir: string, rollbackId: string, paths: ReadonlyArray<{ volume: string; path: string }>): Promise<void> {
  const ts = new Date().toISOString();
  await appendDurably(join(dir, CALLS_FILE), paths.map((p): CallTouch => ({ callId: rollbackId, tool: "warden.rollback", ts, volume: p.volume, path: p.path, op: "rollback" })));
}

export async function markRolledBack(dir: string, callId: string, mark: RolledBack): Promise<void> {
  const folder = join(dir, callId);
  await appendDurably(join(folder, ROLLED_BACK_FILE), [mark]);
  await syncDir(folder);
}
