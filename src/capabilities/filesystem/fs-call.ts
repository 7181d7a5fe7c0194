import type { Stats } from "node:fs";
import type { ToolPath } from "./tool-path.js";
import type { VolumeRoot } from "./volume-root.js";
import { hardlinkRefused, specialFileRefused, toolFailure } from "./denials.js";

export type MutationOp = "writeFile" | "mkdir" | "rm";

/** Everything one operation needs, after the path passed its syntax and grant checks. */
export interface FsCall {
  target: ToolPath;
  root: VolumeRoot;
  signal: AbortSignal | undefined;
  /** The rollback-journal hook (already wrapped so that a refusal is a WardenError). */
  beforeMutation(hostPath: string, op: MutationOp): Promise<void>;
  quotaRescanMs: number;
}

/**
 * Only plain, singly-linked regular files are read or written.
 * - fifo/socket/device: opening one can block, have side effects, or reach host hardware.
 * - nlink > 1: a hard link made outside the volume shares the inode of a file
 *   outside it; no path check can see that, so refuse every multiply-linked file.
 */
export function assertPlainFile(path: string, stat: Stats): void {
  if (stat.isDirectory()) throw toolFailure(path, "is a directory");
  if (stat.isSymbolicLink()) throw toolFailure(path, "the path changed during the operation (a symbolic link appeared); retry");
  if (!stat.isFile()) throw specialFileRefused(path, kindOf(stat));
  if (stat.nlink > 1) throw hardlinkRefused(path, stat.nlink);
}

export function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return "fifo";
  if (stat.isSocket()) return "socket";
  if (stat.isCharacterDevice()) return "character device";
  if (stat.isBlockDevice()) return "block device";
  return "special file";
}
