/**
 * fd-relative, never-following path walking for the journal and rollback.
 *
 * The tool may have planted symlinks in its volume. Reading a pre-image or
 * restoring one through such a link would read or write a host file outside
 * the volume, so every lookup below goes through a directory fd we opened
 * with O_NOFOLLOW, and `/proc/self/fd/<fd>/<name>` (Linux's openat) makes the
 * kernel resolve `name` inside that directory only (see
 * src/capabilities/filesystem/volume-root.ts for the same technique).
 */
import { constants } from "node:fs";
import { mkdir, open, realpath, type FileHandle } from "node:fs/promises";
import { WardenError } from "../errors.js";
import { at, errnoOf, O_DIR_NOFOLLOW } from "../capabilities/filesystem/index.js";

export { at, errnoOf, O_DIR_NOFOLLOW };
/** O_NONBLOCK | O_NOCTTY: a fifo or tty swapped in after the lstat can neither block nor become our terminal. */
export const O_READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;


export async function volumeRootReal(hostPath: string): Promise<string> {
  return realpath(hostPath);
}

/** The path below the volume root, or null when `hostPath` is not strictly inside it. */
export function relativeInVolume(rootReal: string, hostPath: string): string | null {
  const prefix = rootReal.endsWith("/") ? rootReal : `${rootReal}/`;
  if (!hostPath.startsWith(prefix)) return null;
  const rel = hostPath.slice(prefix.length);
  const parts = rel.split("/");
  if (rel === "" || parts.some((p) => p === "" || p === "." || p === "..")) return null;
  return rel;
}

/** The path changed under us (a component became a link or a file): refuse rather than guess. */
export class PathChanged extends Error {
  constructor(readonly rel: string) {
    super(`a parent of ${rel} is no longer a directory`);
  }
}

/**
 * Opens the directory holding the last component of `rel`, component by
 * component with O_NOFOLLOW. `create`: missing parents are made (rollback);
 * otherwise a missing parent returns null (nothing there to capture).
 */
export async function openParentDir(rootReal: string, rel: string, create: boolean): Promise<{ dir: FileHandle; name: string } | null> {
  const parts = rel.split("/");
  const name = parts.pop() as string;
  let dir = await open(rootReal, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    for (const part of parts) {
      let child: FileHandle;
      try {
        child = await open(at(dir, part), O_DIR_NOFOLLOW);
      } catch (err) {
        const code = errnoOf(err);
        if (code === "ENOENT" && create) {
          await mkdir(at(dir, part), { mode: 0o755 });
          child = await open(at(dir, part), O_DIR_NOFOLLOW);
        } else if (code === "ENOENT") {
          await dir.close();
          return null;
        } else if (code === "ENOTDIR" || code === "ELOOP") {
          throw new PathChanged(rel);
        } else throw err;
      }
      await dir.close();
      dir = child;
    }
    return { dir, name };
  } catch (err) {
    await dir.close();
    throw err;
  }
}

export function journalFailure(message: string): WardenError {
  return new WardenError("E_TOOL_FAILED", `filesystem: ${message}`);
}
