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
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { WardenError } from "../errors.js";
import { ownerFor } from "./restore-owner.js";
import { at, errnoOf, isInside, O_DIR_NOFOLLOW, openRoot, volumeRoot, type VolumeRoot } from "../capabilities/filesystem/index.js";

export { at, errnoOf, O_DIR_NOFOLLOW };
/** O_NONBLOCK | O_NOCTTY: a fifo or tty swapped in after the lstat can neither block nor become our terminal. */
export const O_READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * A volume root as ctx.fs resolves it (capabilities/filesystem volumeRoot),
 * plus, for a restore, the identity ("dev:ino") the call's journal recorded:
 * every walk opens the root and refuses it when it is another directory now
 * (a volume folder swapped for a link to somewhere else after the call).
 */
export interface JournalRoot {
  root: VolumeRoot;
  expectedId?: string;
}

export async function journalRoot(volume: string, hostPath: string, expectedId?: string): Promise<JournalRoot> {
  const root = await volumeRoot({ volume, access: "read-write", hostPath });
  return expectedId === undefined ? { root } : { root, expectedId };
}

/** The host folder of volume `name` in the config, own keys only (a volume may be named "constructor"). */
export function volumePathOf(volumes: Record<string, { path: string }>, name: string): string | undefined {
  return Object.hasOwn(volumes, name) ? volumes[name]?.path : undefined;
}

/** "dev:ino" of the directory `handle` holds. */
export async function dirIdentity(handle: FileHandle): Promise<string> {
  const stat = await handle.stat({ bigint: true });
  return `${stat.dev}:${stat.ino}`;
}

/** The volume root is no longer the directory the call wrote into. */
export class RootChanged extends Error {
  constructor(readonly volume: string) {
    super(`the folder of volume ${volume} is not the one the call changed (it was replaced or re-pointed since); nothing was restored there`);
  }
}

async function openJournalRoot(where: JournalRoot): Promise<FileHandle> {
  const dir = await openRoot(where.root);
  try {
    // The root itself: realpath followed whatever the path is now, so check what we actually opened.
    if (!(await isInside(where.root, dir)) || (where.expectedId !== undefined && (await dirIdentity(dir)) !== where.expectedId)) throw new RootChanged(where.root.grant.volume);
    return dir;
  } catch (err) {
    await dir.close();
    throw err;
  }
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
export async function openParentDir(where: JournalRoot, rel: string, create: boolean): Promise<{ dir: FileHandle; name: string } | null> {
  const parts = rel.split("/");
  const name = parts.pop() as string;
  let dir = await openJournalRoot(where);
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
          // A rollback run as root creates no root-owned folder either (restore-owner.ts).
          const owner = ownerFor({}, await dir.stat());
          if (owner) await child.chown(owner.uid, owner.gid);
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
