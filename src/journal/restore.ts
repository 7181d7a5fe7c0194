/**
 * Puts pre-images back. Runs as the operator (often root), in a volume a tool
 * may have filled with symlinks: every step goes through directory fds opened
 * with O_NOFOLLOW from the volume root as ctx.fs resolves it, and that root
 * must still be the directory the call wrote into (its "dev:ino"); files are
 * written to a fresh temp name (O_EXCL | O_NOFOLLOW) and renamed over the
 * target, and removal never enters a link. So no link planted after the call
 * can redirect a restore outside the volume. A pre-image whose content no
 * longer matches the hash recorded at capture is not restored; setuid,
 * setgid and sticky bits are never restored, and nothing is created owned by
 * root (restore-owner.ts).
 */
import { constants } from "node:fs";
import { lchown, mkdir, open, readdir, rename, rmdir, symlink, unlink, type FileHandle } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import type { JournalEntry } from "./records.js";
import { ownerFor, restoredMode, type Owner } from "./restore-owner.js";
import { at, errnoOf, journalRoot, O_DIR_NOFOLLOW, O_READ_NOFOLLOW, openParentDir, PathChanged, relativeInVolume, RootChanged, volumePathOf, type JournalRoot } from "./volume-walk.js";
import { lstatOrNull } from "../capabilities/filesystem/index.js";
import type { CallRecord } from "./call-record.js";

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const BLOB = /^\d+\.blob$/;
const COPY_CHUNK = 1024 * 1024;

export interface RestoreResult {
  /** The paths put back (the first path of each recorded change), newest change first. */
  restored: Array<{ volume: string; path: string }>;
  /** Files, directories and links written or removed, subtrees included. */
  nodes: number;
  failures: Array<{ volume: string; path: string; reason: string }>;
}

/** Restores a call's pre-images, newest change first, so each path ends as it was before the call's first change to it. */
export async function restoreCall(journalDir: string, record: CallRecord, volumes: Record<string, { path: string }>): Promise<RestoreResult> {
  const callDir = join(journalDir, record.callId);
  const groups = new Map<number, JournalEntry[]>();
  for (const entry of record.entries) groups.set(entry.group, [...(groups.get(entry.group) ?? []), entry]);
  const result: RestoreResult = { restored: [], nodes: 0, failures: [] };
  for (const group of [...groups.keys()].sort((a, b) => b - a)) {
    const lines = groups.get(group)!;
    const head = lines[0]!;
    try {
      const host = volumePathOf(volumes, head.volume);
      if (!host) throw new Error(`volume ${head.volume} is no longer in the config`);
      if (lines.some((l) => l.root === undefined || l.root !== head.root)) throw new Error("the journal entry does not name the volume folder it was recorded in (written by an older warden?)");
      const where = await journalRoot(head.volume, host, head.root);
      for (const line of lines) if (line.volume !== head.volume || relativeInVolume(where.root.real, `${where.root.real}/${line.path}`) !== line.path) throw new Error("the journal entry names an unsafe path");
      result.nodes += await restoreGroup(where, callDir, lines);
      if (!result.restored.some((r) => r.volume === head.volume && r.path === head.path)) result.restored.push({ volume: head.volume, path: head.path });
    } catch (err) {
      const reason =
        err instanceof PathChanged
          ? "a parent directory was replaced by a link or a file"
          : err instanceof RootChanged
            ? err.message
            : (err as Error).message.replaceAll(callDir, "<journal>");
      result.failures.push({ volume: head.volume, path: head.path, reason });
    }
  }
  return result;
}

async function restoreGroup(where: JournalRoot, callDir: string, lines: JournalEntry[]): Promise<number> {
  const head = lines[0]!;
  // Every pre-image of the group is checked before anything is removed: a rewritten blob restores nothing.
  for (const line of lines) if (line.kind === "file") await copyBlob(callDir, line, null);
  if (head.subtree || lines.length > 1) {
    // rm -r: the directory is put back exactly as recorded, whatever is there now.
    await removeAt(where, head.path);
    for (const line of lines) await createAt(where, callDir, line);
    for (const line of lines.filter((l) => l.kind === "dir").reverse()) await chmodDirAt(where, line.path, restoredMode(line.mode ?? 0o755));
    return lines.length;
  }
  switch (head.kind) {
    case "absent":
      await removeAt(where, head.path);
      break;
    case "dir":
      // mkdir over a directory that existed: only its mode is ours to restore, not its content.
      if (!(await isDirAt(where, head.path))) {
        await removeAt(where, head.path);
        await createAt(where, callDir, head);
      }
      await chmodDirAt(where, head.path, restoredMode(head.mode ?? 0o755));
      break;
    default:
      await createAt(where, callDir, head);
  }
  return 1;
}

/** Writes one recorded node at its path, replacing what is there (files by atomic rename). */
async function createAt(where: JournalRoot, callDir: string, line: JournalEntry): Promise<void> {
  const parent = (await openParentDir(where, line.path, true))!;
  try {
    const target = at(parent.dir, parent.name);
    const owner = ownerFor(line, await parent.dir.stat());
    if (line.kind === "dir") {
      await removeUnlessDir(parent.dir, parent.name);
      await mkdir(target, { mode: 0o700 }).catch((err) => {
        if (errnoOf(err) !== "EEXIST") throw err;
      });
      if (owner) await lchown(target, owner.uid, owner.gid);
    } else if (line.kind === "symlink") {
      await removeEntryAt(parent.dir, parent.name);
      await symlink(line.target ?? "", target);
      if (owner) await lchown(target, owner.uid, owner.gid);
    } else if (line.kind === "file") {
      const tmp = `.warden-rollback-${randomBytes(6).toString("hex")}`;
      try {
        await writeFromBlob(at(parent.dir, tmp), callDir, line, owner);
      } catch (err) {
        await unlink(at(parent.dir, tmp)).catch(() => {});
        throw err;
      }
      const existing = await lstatOrNull(target);
      if (existing?.isDirectory()) await removeTree(parent.dir, parent.name);
      await rename(at(parent.dir, tmp), target);
    } else {
      await removeEntryAt(parent.dir, parent.name);
    }
    await parent.dir.sync();
  } finally {
    await parent.dir.close();
  }
}

async function writeFromBlob(path: string, callDir: string, line: JournalEntry, owner: Owner | null): Promise<void> {
  const dst = await open(path, CREATE_FLAGS, 0o600);
  try {
    await copyBlob(callDir, line, dst);
    // Owner first (chown clears set-id bits anyway), then fchmod, not the open mode: the umask would change it.
    if (owner) await dst.chown(owner.uid, owner.gid);
    await dst.chmod(restoredMode(line.mode ?? 0o644));
    await dst.datasync();
  } finally {
    await dst.close();
  }
}

/**
 * Streams a pre-image from the journal into `dst` (or nowhere, to check it),
 * refusing when its sha256 is not the one recorded at capture: a journal
 * rewritten after the call (by anything) must not decide what is restored.
 */
async function copyBlob(callDir: string, line: JournalEntry, dst: FileHandle | null): Promise<void> {
  if (!line.blob || !BLOB.test(line.blob)) throw new Error("the journal entry has no valid content file");
  if (!line.sha256) throw new Error("the journal entry has no content hash (written by an older warden?); it cannot be checked");
  const src = await open(join(callDir, line.blob), O_READ_NOFOLLOW);
  try {
    if (!(await src.stat()).isFile()) throw new Error("the journal's content file is not a regular file");
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(COPY_CHUNK);
    for (;;) {
      const { bytesRead } = await src.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      let offset = 0;
      while (dst && offset < bytesRead) offset += (await dst.write(buffer, offset, bytesRead - offset, null)).bytesWritten;
    }
    if (hash.digest("hex") !== line.sha256) throw new Error("the journal's copy of this file was changed after it was recorded (sha256 mismatch); not restored");
  } finally {
    await src.close();
  }
}

async function removeAt(where: JournalRoot, rel: string): Promise<void> {
  const parent = await openParentDir(where, rel, false);
  if (!parent) return;
  try {
    await removeEntryAt(parent.dir, parent.name);
    await parent.dir.sync();
  } finally {
    await parent.dir.close();
  }
}

async function removeUnlessDir(dir: FileHandle, name: string): Promise<void> {
  const stat = await lstatOrNull(at(dir, name));
  if (stat && !stat.isDirectory()) await unlink(at(dir, name));
}

async function removeEntryAt(dir: FileHandle, name: string): Promise<void> {
  const stat = await lstatOrNull(at(dir, name));
  if (!stat) return;
  if (stat.isDirectory()) await removeTree(dir, name);
  else await unlink(at(dir, name));
}

/** Like rm -r, entering only directories opened with O_NOFOLLOW: a link inside is unlinked, never followed. */
async function removeTree(parent: FileHandle, name: string): Promise<void> {
  let dir: FileHandle;
  try {
    dir = await open(at(parent, name), O_DIR_NOFOLLOW);
  } catch (err) {
    if (errnoOf(err) !== "ENOTDIR" && errnoOf(err) !== "ELOOP") throw err;
    await unlink(at(parent, name));
    return;
  }
  try {
    for (const entry of await readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true })) {
      if (entry.isDirectory()) await removeTree(dir, entry.name);
      else await unlink(at(dir, entry.name));
    }
  } finally {
    await dir.close();
  }
  await rmdir(at(parent, name));
}

async function isDirAt(where: JournalRoot, rel: string): Promise<boolean> {
  const parent = await openParentDir(where, rel, false);
  if (!parent) return false;
  try {
    return (await lstatOrNull(at(parent.dir, parent.name)))?.isDirectory() === true;
  } finally {
    await parent.dir.close();
  }
}

async function chmodDirAt(where: JournalRoot, rel: string, mode: number): Promise<void> {
  const parent = await openParentDir(where, rel, false);
  if (!parent) throw new Error(`${rel} vanished during the rollback`);
  try {
    const dir = await open(at(parent.dir, parent.name), O_DIR_NOFOLLOW);
    try {
      await dir.chmod(mode);
    } finally {
      await dir.close();
    }
  } finally {
    await parent.dir.close();
  }
}

