import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { WardenError } from "../errors.js";
import type { Logger } from "../logger.js";
import { DEFAULT_JOURNAL_MAX_BYTES, JournalBudget } from "./budget.js";
import { assertCallId } from "./call-id.js";
import { capturePreImage } from "./capture.js";
import { syncDir, treeBytes } from "./disk.js";
import { pruneJournal, type PruneResult } from "./prune.js";
import { appendDurably, CALL_FILE, CALLS_FILE, ENTRIES_FILE, type CallTouch } from "./records.js";
import { errnoOf, journalFailure, relativeInVolume, volumeRootReal } from "./volume-walk.js";

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
  logger: Logger;
}

interface CallState {
  callId: string;
  tool: string;
  dirReady: boolean;
  seq: number;
  /** Paths whose pre-image this call already holds; a subtree covers everything below it. */
  recorded: Array<{ volume: string; path: string; subtree: boolean }>;
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
  let budget: JournalBudget | null = null;
  // One writer at a time: the budget, "once per path" and the order of calls.jsonl stay exact under concurrent calls.
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work, work);
    tail = run.catch(() => {});
    return run;
  };
  const budgetNow = async (): Promise<JournalBudget> => (budget ??= new JournalBudget(maxBytes, await treeBytes(dir)));

  async function record(state: CallState, change: MutationChange): Promise<void> {
    const host = volumes()[change.volume]?.path;
    if (!host) throw journalFailure(`${change.op} refused: volume ${change.volume} is not in the operator config, so the rollback journal cannot record it`);
    const rootReal = await volumeRootReal(host);
    const rel = relativeInVolume(rootReal, change.path);
    if (rel === null) throw journalFailure(`${change.op} refused: the rollback journal cannot place the path inside volume ${change.volume}`);
    const touch: CallTouch = { callId: state.callId, tool: state.tool, ts: new Date().toISOString(), volume: change.volume, path: rel, op: change.op };
    const callDir = join(dir, state.callId);
    const b = await budgetNow();
    if (!state.recorded.some((r) => r.volume === change.volume && (r.path === rel || (r.subtree && rel.startsWith(`${r.path}/`))))) {
      if (!state.dirReady) await prepareCallDir(dir, callDir, state);
      const entries = await capturePreImage({ callDir, volume: change.volume, rootReal, rel, op: change.op, budget: b, nextSeq: () => ++state.seq });
      await appendDurably(join(callDir, ENTRIES_FILE), entries);
      await syncDir(callDir); // the blob and index names themselves
      state.recorded.push({ volume: change.volume, path: rel, subtree: entries[0]?.subtree === true });
    }
    // Every change is in the global order, repeated ones too: a later call's change must be seen as a conflict.
    const created = !(await exists(join(dir, CALLS_FILE)));
    b.used += await appendDurably(join(dir, CALLS_FILE), [touch]);
    if (created) await syncDir(dir);
  }

  return {
    dir,
    forCall(callId, tool) {
      assertCallId(callId);
      const state: CallState = { callId, tool, dirReady: false, seq: 0, recorded: [] };
      return {
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
        budget?.give(result.freedBytes);
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

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return false;
    throw err;
  }
}
