import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { WardenError } from "../errors.js";
import type { Logger } from "../logger.js";
import { DEFAULT_JOURNAL_MAX_BYTES, DEFAULT_TOOL_SHARE, JournalBudget } from "./budget.js";
import { assertCallId } from "./call-id.js";
import { capturePreImage } from "./capture.js";
import { journalUsage, syncDir } from "./disk.js";
import { stateOf } from "./post-image.js";
import { pruneJournal, type PruneResult } from "./prune.js";
import { appendDurably, CALL_FILE, CALLS_FILE, ENTRIES_FILE, POST_FILE, type CallTouch, type PostImage } from "./records.js";
import { dirIdentity, errnoOf, journalFailure, journalRoot, relativeInVolume, volumePathOf, type JournalRoot } from "./volume-walk.js";
import { openRoot } from "../capabilities/filesystem/index.js";

/** What ctx.fs tells the journal before a change (see createVolumeFs's beforeMutation). */
export interface MutationChange {
  volume: string;
  /** Host path, already resolved inside the volume by ctx.fs (symlink-free up to its last component). */
  path: string;
  op: "writeFile" | "mkdir" | "rm";
}

export interface CallJournal {
  /** Pass as createVolumeFs's `beforeMutation`. Resolves once the pre-image is durable; throws WardenError to refuse the change. */
  beforeMutation(change: MutationChange): Promise<void>;
  /**
   * Runs one ctx.fs operation; when no operation of the call is left in
   * flight, records the post-image of every path changed (post-image.ts), so
   * a rollback can tell a later change by anyone from the call's own. Never
   * rejects on its own account (a host function must not).
   */
  around<T>(operation: () => Promise<T>): Promise<T>;
}

export interface Journal {
  readonly dir: string;
  forCall(callId: string, tool: string): CallJournal;
  /** Removes call folders older than `retainDays` (serialized with recording; logged). */
  prune(retainDays: number): Promise<PruneResult>;
  /** Bytes the journal holds now (blobs and index lines). */
  usedBytes(): Promise<number>;
}

export interface JournalOptions {
  dir: string;
  /** Volume name → host directory, i.e. config.volumes (or a function returning the live one). */
  volumes: Record<string, { path: string }> | (() => Record<string, { path: string }>);
  /** Bound over the whole journal; a pre-image that would pass it refuses the change. Default 256 MiB. */
  maxBytes?: number;
  /** One tool's share of the bound (its calls' pre-images and index lines). Default maxBytes / 4. */
  maxBytesPerTool?: number;
  logger: Logger;
}

interface CallState {
  callId: string;
  tool: string;
  dirReady: boolean;
  seq: number;
  /** Paths whose pre-image this call already holds; a subtree covers everything below it. */
  recorded: Array<{ volume: string; path: string; subtree: boolean }>;
  /** Paths changed since the last post-image pass, and how to open their volume. */
  pending: Map<string, { volume: string; path: string; where: JournalRoot }>;
  /** Every path with a post-image so far: an rm -r of a parent changes them too. */
  posted: Map<string, { volume: string; path: string; where: JournalRoot }>;
  inFlight: number;
}

/**
 * The rollback journal (SPEC §14): before ctx.fs changes a path, its
 * pre-image is stored under the call's id, once per path per call, and
 * fsync'd before the change is allowed to happen.
 */
export function createJournal(options: JournalOptions): Journal {
  const maxBytes = options.maxBytes ?? DEFAULT_JOURNAL_MAX_BYTES;
  if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new WardenError("E_CONFIG", `journal.maxBytes must be a positive integer, got ${String(maxBytes)}`);
  const dir = options.dir;
  const volumes = typeof options.volumes === "function" ? options.volumes : () => options.volumes as Record<string, { path: string }>;
  const maxBytesPerTool = options.maxBytesPerTool ?? Math.max(1, Math.floor(maxBytes * DEFAULT_TOOL_SHARE));
  if (!(Number.isSafeInteger(maxBytesPerTool) && maxBytesPerTool > 0)) throw new WardenError("E_CONFIG", `journal.maxBytesPerTool must be a positive integer, got ${String(maxBytesPerTool)}`);
  let budget: JournalBudget | null = null;
  // One writer at a time: the budget, "once per path" and the order of calls.jsonl stay exact under concurrent calls.
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work, work);
    tail = run.catch(() => {});
    return run;
  };
  const budgetNow = async (): Promise<JournalBudget> => {
    if (budget) return budget;
    const usage = await journalUsage(dir);
    return (budget = new JournalBudget(maxBytes, maxBytesPerTool, usage.total, usage.byTool));
  };

  async function record(state: CallState, change: MutationChange): Promise<void> {
    const host = volumePathOf(volumes(), change.volume);
    if (!host) throw journalFailure(`${change.op} refused: volume ${change.volume} is not in the operator config, so the rollback journal cannot record it`);
    // The root as ctx.fs resolved it; its identity goes into every entry so a rollback can refuse a swapped root.
    const where = await journalRoot(change.volume, host);
    const rel = relativeInVolume(where.root.real, change.path);
    if (rel === null) throw journalFailure(`${change.op} refused: the rollback journal cannot place the path inside volume ${change.volume}`);
    const touch: CallTouch = { callId: state.callId, tool: state.tool, ts: new Date().toISOString(), volume: change.volume, path: rel, op: change.op };
    const callDir = join(dir, state.callId);
    const b = await budgetNow();
    if (!state.recorded.some((r) => r.volume === change.volume && (r.path === rel || (r.subtree && rel.startsWith(`${r.path}/`))))) {
      if (!state.dirReady) await prepareCallDir(dir, callDir, state);
      const rootId = await rootIdOf(where);
      const entries = await capturePreImage({ callDir, volume: change.volume, where, rootId, rel, op: change.op, tool: state.tool, budget: b, nextSeq: () => ++state.seq });
      await appendDurably(join(callDir, ENTRIES_FILE), entries);
      await syncDir(callDir); // the blob and index names themselves
      state.recorded.push({ volume: change.volume, path: rel, subtree: entries[0]?.subtree === true });
    }
    // Every change is in the global order, repeated ones too: a later call's change must be seen as a conflict.
    const created = !(await exists(join(dir, CALLS_FILE)));
    b.add(await appendDurably(join(dir, CALLS_FILE), [touch]), state.tool);
    if (created) await syncDir(dir);
    state.pending.set(`${change.volume}\0${rel}`, { volume: change.volume, path: rel, where });
  }

  /** Post-images of the paths changed since the last pass (see CallJournal.around). */
  async function recordPostImages(state: CallState): Promise<void> {
    const paths = [...state.pending.values()];
    state.pending.clear();
    for (const p of [...state.posted.values()]) if (paths.some((q) => q.volume === p.volume && p.path.startsWith(`${q.path}/`))) paths.push(p);
    for (const p of paths) state.posted.set(`${p.volume}\0${p.path}`, p);
    if (paths.length === 0 || !state.dirReady) return;
    const lines: PostImage[] = [];
    for (const p of paths) lines.push({ volume: p.volume, path: p.path, state: await stateOf(p.where, p.path) });
    (await budgetNow()).add(await appendDurably(join(dir, state.callId, POST_FILE), lines), state.tool);
  }

  return {
    dir,
    forCall(callId, tool) {
      assertCallId(callId);
      const state: CallState = { callId, tool, dirReady: false, seq: 0, recorded: [], pending: new Map(), posted: new Map(), inFlight: 0 };
      return {
        async around(operation) {
          state.inFlight++;
          try {
            return await operation();
          } finally {
            if (--state.inFlight === 0 && state.pending.size > 0)
              await serial(() => recordPostImages(state)).catch((err: unknown) => {
                // Fail closed later, not now: without a post-image, rollback of these paths needs --force.
                options.logger.error({ event: "journal.post_image_failed", callId, err: (err as Error).message }, "journal: cannot record what the call left; its rollback will need --force");
              });
          }
        },
        beforeMutation: (change) =>
          serial(async () => {
            try {
              await record(state, change);
            } catch (err) {
              if (err instanceof WardenError) throw err;
              // The Node error names host paths: it goes to the operator's log, the tool gets a path-free refusal.
              options.logger.error({ event: "journal.write_failed", callId, volume: change.volume, op: change.op, err: (err as Error).message }, "journal: cannot record a pre-image; the change is refused");
              throw journalFailure(`${change.op} refused: the rollback journal could not record it (see the server log)`);
            }
          }),
      };
    },
    prune: (retainDays) =>
      serial(async () => {
        const result = await pruneJournal(dir, retainDays, options.logger);
        for (const [tool, bytes] of result.freedByTool) budget?.give(bytes, tool);
        return result;
      }),
    usedBytes: () => serial(async () => (await budgetNow()).used),
  };
}

async function prepareCallDir(dir: string, callDir: string, state: CallState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await mkdir(callDir, { mode: 0o700 });
  } catch (err) {
    // A reused callId would mix two calls' pre-images: refuse instead of guessing which one rollback means.
    if (errnoOf(err) === "EEXIST") throw journalFailure(`the rollback journal already holds call ${state.callId}; refusing to mix two calls`);
    throw err;
  }
  await appendDurably(join(callDir, CALL_FILE), [{ callId: state.callId, tool: state.tool, ts: new Date().toISOString() }]);
  await syncDir(dir);
  state.dirReady = true;
}

async function rootIdOf(where: JournalRoot): Promise<string> {
  const handle = await openRoot(where.root);
  try {
    return await dirIdentity(handle);
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return false;
    throw err;
  }
}
