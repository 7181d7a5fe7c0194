/**
 * Puts pre-images back. Runs as the operator, in a volume a tool may have
 * filled with symlinks: every step goes through directory fds opened with
 * O_NOFOLLOW, files are written to a fresh temp name (O_EXCL | O_NOFOLLOW)
 * and renamed over the target, and removal never enters a link. So no link
 * planted after the call can redirect a restore outside the volume.
 */
import { constants } from "node:fs";
import { mkdir, open, readdir, rename, rmdir, symlink, unlink, type FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { JournalEntry } from "./records.js";
import { at, errnoOf, O_DIR_NOFOLLOW, openParentDir, PathChanged, relativeInVolume, volumeRootReal } from "./volume-walk.js";
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
      const host = volumes[head.volume]?.path;
      if (!host) throw new Error(`volume ${head.volume} is no longer in the config`);
      const rootReal = await volumeRootReal(host);
      for (const line of lines) if (line.volume !== head.volume || relativeInVolume(rootReal, `${rootReal}/${line.path}`) !== line.path) throw new Error("the journal entry names an unsafe path");
      result.nodes += await restoreGroup(rootReal, callDir, lines);
      if (!result.restored.some((r) => r.volume === head.volume && r.path === head.path)) result.restored.push({ volume: head.volume, path: head.path });
    } catch (err) {
      const reason = err instanceof PathChanged ? "a parent directory was replaced by a link or a file" : (err as Error).message.replaceAll(callDir, "<journal>");
      result.failures.push({ volume: head.volume, path: head.path, reason });
    }
  }
  return result;
}

async function restoreGroup(rootReal: string, callDir: string, lines: JournalEntry[]): Promise<number> {
  const head = lines[0]!;
  if (head.subtree || lines.length > 1) {
    // rm -r: the directory is put back exactly as recorded, whatever is there now.
    await removeAt(rootReal, head.path);
    for (const line of lines) await createAt(rootReal, callDir, line);
    for (const line of lines.filter((l) => l.kind === "dir").reverse()) await chmodDirAt(rootReal, line.path, line.mode ?? 0o755);
    return lines.length;
  }
  switch (head.kind) {
    case "absent":
      await removeAt(rootReal, head.path);
      break;
    case "dir":
      // mkdir over a directory that existed: only its mode is ours to restore, not its content.
      if (!(await isDirAt(rootReal, head.path))) {
        await removeAt(rootReal, head.path);
        await createAt(rootReal, callDir, head);
      }
      await chmodDirAt(rootReal, head.path, head.mode ?? 0o755);
      break;
    default:
      await createAt(rootReal, callDir, head);
  }
  return 1;
}

/** Writes one recorded node at its path, replacing what is there (files by atomic rename). */
async function createAt(rootReal: string, callDir: string, line: JournalEntry): Promise<void> {
  const parent = (await openParentDir(rootReal, line.path, true))!;
  try {
    const target = at(parent.dir, parent.name);
    if (line.kind === "dir") {
      await removeUnlessDir(parent.dir, parent.name);
      await mkdir(target, { mode: 0o700 }).catch((err) => {
        if (errnoOf(err) !== "EEXIST") throw err;
      });
    } else if (line.kind === "symlink") {
      await removeEntryAt(parent.dir, parent.name);
      await symlink(line.target ?? "", target);
    } else if (line.kind === "file") {
      if (!line.blob || !BLOB.test(line.blob)) throw new Error("the journal entry has no valid content file");
      const tmp = `.warden-rollback-${randomBytes(6).toString("hex")}`;
      await writeFromBlob(at(parent.dir, tmp), join(callDir, line.blob), line.mode ?? 0o644);
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

async function writeFromBlob(path: string, blobPath: string, mode: number): Promise<void> {
  const src = await open(blobPath, "r");
  try {
    const dst = await open(path, CREATE_FLAGS, 0o600);
    try {
      const buffer = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        const { bytesRead } = await src.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        let offset = 0;
        while (offset < bytesRead) offset += (await dst.write(buffer, offset, bytesRead - offset, null)).bytesWritten;
      }
      // fchmod, not the open mode: the umask would otherwise change what we restore.
      await dst.chmod(mode);
      await dst.datasync();
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

async function removeAt(rootReal: string, rel: string): Promise<void> {
  const parent = await openParentDir(rootReal, rel, false);
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

async function isDirAt(rootReal: string, rel: string): Promise<boolean> {
  const parent = await openParentDir(rootReal, rel, false);
  if (!parent) return false;
  try {
    return (await lstatOrNull(at(parent.dir, parent.name)))?.isDirectory() === true;
  } finally {
    await parent.dir.close();
  }
}

async function chmodDirAt(rootReal: string, rel: string, mode: number): Promise<void> {
  const parent = await openParentDir(rootReal, rel, false);
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

