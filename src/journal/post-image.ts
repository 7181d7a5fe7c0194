/**
 * Post-images (issue 19): what each path looked like when the call's
 * operation on it ended. Container tools, the operator or any other process
 * can change a volume without going through the journal; restoring a
 * pre-image over such a change would silently destroy it. So `warden
 * rollback` compares every path the call touched with the state the call
 * left, and every node below a path it will remove or replace must be one the
 * call made; anything else is a change by someone else, refused without
 * --force. States are read like everything else in the journal: fd-relative,
 * never following a link.
 */
import { createHash } from "node:crypto";
import { open, readdir, readlink, type FileHandle } from "node:fs/promises";
import { lstatOrNull } from "../capabilities/filesystem/index.js";
import type { JournalEntry, PostImage } from "./records.js";
import { at, errnoOf, O_DIR_NOFOLLOW, O_READ_NOFOLLOW, openParentDir, PathChanged, RootChanged, type JournalRoot } from "./volume-walk.js";

/** Larger files are not hashed (a post-image must not cost a call more than the write did): "unverifiable". */
const MAX_HASHED_BYTES = 256 * 1024 * 1024;
/** Nodes walked below one path at rollback; past it the tree is "unverifiable" (refused without --force). */
const MAX_TREE_NODES = 20_000;

export const UNVERIFIABLE = "unverifiable";
/** A parent of the path is now a link or a file: whatever is there is not what the call left. */
export const PARENT_CHANGED = "parent-changed";

/** "absent", "dir", "symlink:<target>", "file:<sha256>", "special", "parent-changed" or "unverifiable" (too big to hash). */
export async function stateOf(where: JournalRoot, rel: string): Promise<string> {
  let parent;
  try {
    parent = await openParentDir(where, rel, false);
  } catch (err) {
    if (err instanceof PathChanged) return PARENT_CHANGED;
    throw err;
  }
  if (!parent) return "absent";
  try {
    const stat = await lstatOrNull(at(parent.dir, parent.name));
    if (!stat) return "absent";
    if (stat.isDirectory()) return "dir";
    if (stat.isSymbolicLink()) return `symlink:${await readlink(at(parent.dir, parent.name))}`;
    if (!stat.isFile()) return "special";
    return await fileState(parent.dir, parent.name);
  } finally {
    await parent.dir.close();
  }
}

async function fileState(dir: FileHandle, name: string): Promise<string> {
  let file: FileHandle;
  try {
    file = await open(at(dir, name), O_READ_NOFOLLOW);
  } catch (err) {
    if (errnoOf(err) === "ELOOP" || errnoOf(err) === "ENOENT") return UNVERIFIABLE;
    throw err;
  }
  try {
    const stat = await file.stat();
    if (!stat.isFile() || stat.size > MAX_HASHED_BYTES) return UNVERIFIABLE;
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    let total = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_HASHED_BYTES) return UNVERIFIABLE;
      hash.update(buffer.subarray(0, bytesRead));
    }
    return `file:${hash.digest("hex")}`;
  } finally {
    await file.close();
  }
}

/** Paths below `rel` now (not following links), or null past MAX_TREE_NODES or when a parent changed. */
async function pathsBelow(where: JournalRoot, rel: string): Promise<string[] | null> {
  let parent;
  try {
    parent = await openParentDir(where, rel, false);
  } catch (err) {
    if (err instanceof PathChanged) return null;
    throw err;
  }
  if (!parent) return [];
  const out: string[] = [];
  try {
    const walk = async (dirParent: FileHandle, name: string, path: string): Promise<boolean> => {
      let dir: FileHandle;
      try {
        dir = await open(at(dirParent, name), O_DIR_NOFOLLOW);
      } catch (err) {
        if (["ENOTDIR", "ELOOP", "ENOENT"].includes(errnoOf(err) ?? "")) return true;
        throw err;
      }
      try {
        for (const child of (await readdir(`/proc/self/fd/${dir.fd}`)).sort()) {
          if (out.push(`${path}/${child}`) > MAX_TREE_NODES) return false;
          if (!(await walk(dir, child, `${path}/${child}`))) return false;
        }
        return true;
      } finally {
        await dir.close();
      }
    };
    return (await walk(parent.dir, parent.name, rel)) ? out : null;
  } finally {
    await parent.dir.close();
  }
}

export interface OutsideChange {
  volume: string;
  path: string;
  reason: string;
}

/**
 * Paths whose state now differs from what the call left (or that appeared
 * below a path the rollback would remove). `roots`: the volume roots, as the
 * restore will open them (a swapped root is reported by the restore itself).
 */
export async function changesSinceCall(
  entries: readonly JournalEntry[],
  posts: readonly PostImage[],
  rootOf: (volume: string, id: string | undefined) => Promise<JournalRoot | null>,
): Promise<OutsideChange[]> {
  const last = new Map<string, PostImage>();
  for (const p of posts) last.set(key(p), p);
  const out: OutsideChange[] = [];
  const heads = new Map<number, JournalEntry>();
  for (const e of entries) if (!heads.has(e.group)) heads.set(e.group, e);
  for (const head of heads.values()) {
    // null: the volume is gone from the config; the restore refuses that group itself, with its reason.
    const where = await rootOf(head.volume, head.root);
    if (!where) continue;
    const post = last.get(key(head));
    if (!post) {
      out.push({ volume: head.volume, path: head.path, reason: "the state the call left was not recorded (it ended mid-change?)" });
      continue;
    }
    // A swapped volume root is refused by the restore itself, with its own reason.
    const now = await stateOf(where, head.path).catch((err: unknown) => (err instanceof RootChanged ? null : Promise.reject(err)));
    if (now === null) continue;
    if (now !== post.state || now === UNVERIFIABLE) {
      out.push({ volume: head.volume, path: head.path, reason: `changed since the call (the call left ${describe(post.state)}, it is now ${describe(now)})` });
      continue;
    }
    // A path the rollback removes or replaces whole: everything below it must be the call's own doing.
    const replacesWhole = head.subtree === true || head.kind !== "dir";
    if (!replacesWhole || now !== "dir") continue;
    const below = await pathsBelow(where, head.path);
    if (below === null) {
      out.push({ volume: head.volume, path: head.path, reason: `too many entries below it to check (over ${MAX_TREE_NODES})` });
      continue;
    }
    for (const path of below) {
      const mine = last.get(key({ volume: head.volume, path }));
      if (!mine || mine.state === "absent") out.push({ volume: head.volume, path, reason: "created since the call by something else" });
      else if ((await stateOf(where, path)) !== mine.state) out.push({ volume: head.volume, path, reason: "changed since the call" });
    }
  }
  return out;
}

function key(p: { volume: string; path: string }): string {
  return `${p.volume}\0${p.path}`;
}

function describe(state: string): string {
  if (state.startsWith("file:")) return `a file (sha256 ${state.slice(5, 17)}…)`;
  if (state.startsWith("symlink:")) return "a symbolic link";
  if (state === "dir") return "a folder";
  if (state === "absent") return "nothing";
  if (state === UNVERIFIABLE) return "something that cannot be checked";
  if (state === PARENT_CHANGED) return "behind a parent folder replaced by a link or a file";
  return "a special file";
}
