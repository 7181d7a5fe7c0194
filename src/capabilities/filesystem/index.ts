/**
 * ctx.fs, host side: every file operation an isolate tool asks for, confined
 * to the volumes granted to it. See README.md in this folder for the rules
 * and the threats each one stops.
 */
import type { FsOperation, FsStat, HostResult } from "../../../sandboxes/executor.js";
import { WardenError } from "../../errors.js";
import type { FileRecord, VolumeGrant } from "../types.js";
import { throwIfCancelled } from "./cancel.js";
import { shownPath, toolFailure, writeRefusedReadOnly } from "./denials.js";
import { asFsError } from "./errno.js";
import type { FsCall, MutationOp } from "./fs-call.js";
export type { MutationOp } from "./fs-call.js";
import { makeVolumeDir } from "./make-dir.js";
import { DEFAULT_QUOTA_RESCAN_MS } from "./quota.js";
import { readVolumeDir } from "./read-dir.js";
import { readVolumeFile } from "./read-file.js";
import { removeInVolume } from "./remove.js";
import { statInVolume } from "./stat.js";
import { parseToolPath, volumeOf, type ToolPath } from "./tool-path.js";
import { VolumeRoots } from "./volume-root.js";
import { writeVolumeFile } from "./write-file.js";

export { MAX_COMPONENT_BYTES, MAX_PATH_LENGTH } from "./tool-path.js";
/** fd-relative, never-following lookups (Linux openat through /proc/self/fd), shared with the rollback journal. */
export { at, O_DIR_NOFOLLOW, volumeRoot, openRoot, isInside, type VolumeRoot } from "./volume-root.js";
export { errnoOf } from "./errno.js";
export { lstatOrNull } from "./resolve-in-volume.js";
export { DEFAULT_QUOTA_RESCAN_MS } from "./quota.js";

export const DEFAULT_MAX_READ_BYTES = 16 * 1024 * 1024;

export interface VolumeFsOptions {
  tool: string;
  volumes: VolumeGrant[];
  /** One per operation, refused ones too ({volume, path (the /mnt/... path), op, denied?}). */
  onFileOp(record: FileRecord): void;
  /** Default 16 MiB. A larger file is refused (E_CAPABILITY_DENIED), never truncated. */
  maxReadBytes?: number;
  /** Hook for the rollback journal (issue 7): called before any mutation with the host-side target; may throw WardenError to refuse. */
  beforeMutation?(change: { volume: string; path: string; op: MutationOp }): Promise<void>;
  /** How old a volume's usage tally may get before the next quota check re-walks the volume. Default 10 s. */
  quotaRescanMs?: number;
}

export type FsValue = string | Uint8Array | string[] | FsStat | null;

/** Audit records keep any valid path whole (MAX_PATH_LENGTH), escaped; only longer refused ones are cut. */
const RECORD_PATH_CHARS = 4096;
const OPS = new Set(["readFile", "writeFile", "readdir", "stat", "mkdir", "rm"]);
const MUTATIONS = new Set(["writeFile", "mkdir", "rm"]);

/** The host side of ctx.fs. Never rejects: HostResult. Paths are `/mnt/<volume>/...`. */
export function createVolumeFs(options: VolumeFsOptions): (operation: FsOperation, signal?: AbortSignal) => Promise<HostResult<FsValue>> {
  const maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  const roots = new VolumeRoots();
  return async (operation, signal) => {
    const op = shownPath(String((operation as { op?: unknown } | null)?.op), 32);
    const rawPath = (operation as { path?: unknown } | null)?.path;
    let target: ToolPath | undefined;
    const hookRefusals = new WeakSet<object>();
    let recorded = false;
    try {
      throwIfCancelled(signal);
      if (!OPS.has(op)) throw toolFailure(rawPath as string, `unknown operation "${shownPath(op)}"`);
      target = parseToolPath(rawPath, options.volumes, options.tool);
      if (MUTATIONS.has(op) && target.grant.access !== "read-write") {
        throw writeRefusedReadOnly(op, target.path, target.grant.volume, options.tool);
      }
      const call: FsCall = {
        target,
        root: await roots.of(target.grant),
        signal,
        quotaRescanMs: options.quotaRescanMs ?? DEFAULT_QUOTA_RESCAN_MS,
        beforeMutation: journalGate(options, target, op, signal, hookRefusals),
      };
      const value = await perform(call, operation, maxReadBytes);
      // Unaudited data does not reach the tool: if the record cannot be taken, the result is withheld.
      recorded = true;
      options.onFileOp({ volume: target.grant.volume, path: shownPath(target.path, RECORD_PATH_CHARS), op });
      return { ok: true, value };
    } catch (err) {
      const error = asFsError(err, typeof rawPath === "string" ? rawPath : shownPath(rawPath), op);
      const denied = error.code === "E_CAPABILITY_DENIED" || hookRefusals.has(error);
      const record: FileRecord = { volume: target?.grant.volume ?? volumeOf(rawPath), path: shownPath(rawPath, RECORD_PATH_CHARS), op };
      if (denied) record.denied = error.message;
      try {
        if (!recorded) options.onFileOp(record);
      } catch {
        // The operation already failed; the audit sink's own failure is the broker's to report (its
        // next record fails too), and a host function must never reject.
      }
      return { ok: false, error: error.toPayload() };
    }
  };
}

/**
 * The rollback-journal hook as the operations call it. A journal that cannot
 * record the pre-image must stop the change (fail closed); its own errors may
 * carry host paths, so only a WardenError's message reaches the tool.
 */
function journalGate(
  options: VolumeFsOptions,
  target: ToolPath,
  op: string,
  signal: AbortSignal | undefined,
  refusals: WeakSet<object>,
): FsCall["beforeMutation"] {
  return async (hostPath, mutation) => {
    throwIfCancelled(signal);
    if (!options.beforeMutation) return;
    try {
      await options.beforeMutation({ volume: target.grant.volume, path: hostPath, op: mutation });
    } catch (err) {
      const refusal =
        err instanceof WardenError
          ? err
          : new WardenError("E_TOOL_FAILED", `filesystem: ${op} of ${shownPath(target.path)} refused: the rollback journal could not record it`);
      refusals.add(refusal);
      throw refusal;
    }
  };
}

function perform(call: FsCall, operation: FsOperation, maxReadBytes: number): Promise<FsValue> {
  switch (operation.op) {
    case "readFile":
      return readVolumeFile(call, operation.encoding === "utf8" ? "utf8" : undefined, maxReadBytes);
    case "writeFile":
      return writeVolumeFile(call, operation.data);
    case "readdir":
      return readVolumeDir(call);
    case "stat":
      return statInVolume(call);
    case "mkdir":
      return makeVolumeDir(call, operation.recursive === true);
    case "rm":
      return removeInVolume(call, operation.recursive === true);
  }
}
