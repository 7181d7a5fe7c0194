import type { Stats } from "node:fs";
import type { FsStat } from "../../../sandboxes/executor.js";
import { toolFailure } from "./denials.js";
import type { FsCall } from "./fs-call.js";
import { resolveInVolume } from "./resolve-in-volume.js";

/**
 * Follows in-volume symlinks like Node's fs.stat (so "symlink" only shows up
 * when a link is swapped in mid-call). Special and multiply-linked files are
 * reported, not refused: stat opens nothing and reveals only metadata of an
 * entry that is inside the volume.
 */
export async function statInVolume(call: FsCall): Promise<FsStat> {
  const found = await resolveInVolume(call.root, call.target, { final: "follow", signal: call.signal });
  try {
    const stat = found.name === null ? await found.dir.stat() : found.stat;
    if (!stat) throw toolFailure(call.target.path, "no such file");
    return toFsStat(stat);
  } finally {
    await found.dir.close();
  }
}

function toFsStat(stat: Stats): FsStat {
  const type = stat.isFile() ? "file" : stat.isDirectory() ? "directory" : stat.isSymbolicLink() ? "symlink" : "other";
  return { type, size: stat.size, mode: stat.mode & 0o7777, mtimeMs: stat.mtimeMs };
}
