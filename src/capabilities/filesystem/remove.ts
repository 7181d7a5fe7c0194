import type { Stats } from "node:fs";
import { lstat, open, readdir, rmdir, unlink, type FileHandle } from "node:fs/promises";
import { throwIfCancelled } from "./cancel.js";
import { rootRemovalRefused, toolFailure } from "./denials.js";
import { errnoOf } from "./errno.js";
import type { FsCall } from "./fs-call.js";
import { releaseBytes } from "./quota.js";
import { resolveInVolume } from "./resolve-in-volume.js";
import { at, hostPathOf, O_DIR_NOFOLLOW } from "./volume-root.js";

/**
 * rm never follows the last component (a link is unlinked, not its target),
 * and a recursive rm descends only through directories opened with
 * O_NOFOLLOW relative to their parent's fd: a symlink met or swapped in
 * during the walk is unlinked, never entered.
 */
export async function removeInVolume(call: FsCall, recursive: boolean): Promise<null> {
  const path = call.target.path;
  const found = await resolveInVolume(call.root, call.target, { final: "parent", signal: call.signal });
  try {
    // Removing the root would remove the operator's volume directory itself.
    if (found.name === null) throw rootRemovalRefused(path);
    const stat = await lstat(at(found.dir, found.name));
    if (stat.isDirectory() && !recursive) throw toolFailure(path, "is a directory (pass recursive: true to remove it with its content)");
    await call.beforeMutation(hostPathOf(call.root, found.stack, found.name), "rm");
    const freed = stat.isDirectory()
      ? await removeTree(found.dir, found.name, call.signal)
      : await removeEntry(found.dir, found.name, stat);
    releaseBytes(call.root, freed);
    return null;
  } finally {
    await found.dir.close();
  }
}

async function removeEntry(parent: FileHandle, name: string, stat: Stats): Promise<number> {
  await unlink(at(parent, name));
  return stat.isFile() ? stat.size : 0;
}

/** Returns the bytes of regular files freed. */
async function removeTree(parent: FileHandle, name: string, signal: AbortSignal | undefined): Promise<number> {
  let dir: FileHandle;
  try {
    dir = await open(at(parent, name), O_DIR_NOFOLLOW);
  } catch (err) {
    const code = errnoOf(err);
    if (code !== "ENOTDIR" && code !== "ELOOP") throw err;
    // Swapped for a link or file since we looked: remove that entry, do not enter it.
    return removeEntry(parent, name, await lstat(at(parent, name)));
  }
  let freed = 0;
  try {
    for (const entry of await readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true })) {
      throwIfCancelled(signal);
      freed += entry.isDirectory()
        ? await removeTree(dir, entry.name, signal)
        : await removeEntry(dir, entry.name, await lstat(at(dir, entry.name)));
    }
  } finally {
    await dir.close();
  }
  await rmdir(at(parent, name));
  return freed;
}
