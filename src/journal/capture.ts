/**
 * Reads the pre-image of one path before ctx.fs changes it, and stores it in
 * the call's journal folder. Never follows a symlink: a link is recorded as a
 * link (its text), so a tool that planted `a -> /etc` cannot make the journal
 * copy host files, and rollback recreates the link, not its target.
 */
import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import { open, readdir, readlink, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { WardenError } from "../errors.js";
import type { JournalBudget } from "./budget.js";
import { toolPathOf, type JournalEntry } from "./records.js";
import { at, errnoOf, O_DIR_NOFOLLOW, O_READ_NOFOLLOW, openParentDir, PathChanged, type JournalRoot } from "./volume-walk.js";
import { lstatOrNull } from "../capabilities/filesystem/index.js";

const COPY_CHUNK = 1024 * 1024;

export interface CaptureTarget {
  callDir: string;
  volume: string;
  where: JournalRoot;
  /** "dev:ino" of the volume root, recorded on every entry (restore checks it). */
  rootId: string;
  /** Inside the volume. */
  rel: string;
  op: "writeFile" | "mkdir" | "rm";
  /** The tool whose call this is: its share of the budget is charged. */
  tool: string;
  budget: JournalBudget;
  nextSeq(): number;
}

/** The entries describing `rel` before the change (one, or a whole subtree for rm of a directory). */
export async function capturePreImage(target: CaptureTarget): Promise<JournalEntry[]> {
  const capture = new Capture(target);
  try {
    return await capture.run();
  } catch (err) {
    await capture.discard();
    if (err instanceof PathChanged) throw changedDuring(target);
    throw err;
  }
}

class Capture {
  readonly entries: JournalEntry[] = [];
  readonly blobs: string[] = [];
  taken = 0;
  group = 0;

  constructor(readonly t: CaptureTarget) {}

  async run(): Promise<JournalEntry[]> {
    const parent = await openParentDir(this.t.where, this.t.rel, false);
    if (!parent) return [this.absent()];
    try {
      const stat = await lstatOrNull(at(parent.dir, parent.name));
      if (!stat) return [this.absent()];
      await this.node(parent.dir, parent.name, this.t.rel, stat, this.t.op === "rm");
      return this.entries;
    } finally {
      await parent.dir.close();
    }
  }

  absent(): JournalEntry {
    const seq = this.t.nextSeq();
    this.t.budget.take(256, this.t);
    this.taken += 256;
    return { seq, group: seq, volume: this.t.volume, path: this.t.rel, kind: "absent", mode: null, blob: null, size: 0, root: this.t.rootId };
  }

  /** One node; `deep`: a directory is captured with everything below it (rm -r removes all of it). */
  async node(dir: FileHandle, name: string, rel: string, stat: Stats, deep: boolean): Promise<void> {
    const seq = this.t.nextSeq();
    if (this.entries.length === 0) this.group = seq;
    const base = { seq, group: this.group, volume: this.t.volume, path: rel, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, root: this.t.rootId };
    // Index line bytes count against the bound too: a million empty files must not fill the disk.
    this.take(256 + Buffer.byteLength(rel));
    if (stat.isFile()) {
      const blob = `${seq}.blob`;
      const { size, sha256 } = await this.copyFile(dir, name, blob);
      this.entries.push({ ...base, kind: "file", blob, size, sha256 });
    } else if (stat.isSymbolicLink()) {
      const target = await readlink(at(dir, name));
      this.take(Buffer.byteLength(target));
      this.entries.push({ ...base, kind: "symlink", mode: null, blob: null, size: 0, target });
    } else if (stat.isDirectory()) {
      this.entries.push({ ...base, kind: "dir", blob: null, size: 0, ...(deep && rel === this.t.rel ? { subtree: true as const } : {}) });
      if (deep) await this.children(dir, name, rel);
    } else {
      throw new WardenError(
        "E_CAPABILITY_DENIED",
        `filesystem: ${this.t.op} of ${toolPathOf(this.t.volume, this.t.rel)} refused: ${toolPathOf(this.t.volume, rel)} is a ${kindOf(stat)}, which the rollback journal cannot record (only regular files, directories and symbolic links can be undone)`,
      );
    }
  }

  async children(parent: FileHandle, name: string, rel: string): Promise<void> {
    let dir: FileHandle;
    try {
      dir = await open(at(parent, name), O_DIR_NOFOLLOW);
    } catch (err) {
      if (errnoOf(err) === "ENOTDIR" || errnoOf(err) === "ELOOP") throw new PathChanged(rel);
      throw err;
    }
    try {
      const names = (await readdir(`/proc/self/fd/${dir.fd}`)).sort();
      for (const child of names) {
        const stat = await lstatOrNull(at(dir, child));
        if (stat) await this.node(dir, child, `${rel}/${child}`, stat, true);
      }
    } finally {
      await dir.close();
    }
  }

  /** Copies a regular file into the call folder, opened without following links and checked again after open. */
  async copyFile(dir: FileHandle, name: string, blob: string): Promise<{ size: number; sha256: string }> {
    const src = await open(at(dir, name), O_READ_NOFOLLOW);
    try {
      const stat = await src.stat();
      if (!stat.isFile()) throw new PathChanged(this.t.rel);
      this.take(stat.size);
      let reserved = stat.size;
      const dst = await open(join(this.t.callDir, blob), "wx", 0o600);
      this.blobs.push(blob);
      const hash = createHash("sha256");
      try {
        const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(stat.size, 1)));
        let copied = 0;
        for (;;) {
          const { bytesRead } = await src.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) break;
          copied += bytesRead;
          // The file may have grown since fstat (another writer): the bound still holds, byte for byte.
          if (copied > reserved) {
            this.take(copied - reserved);
            reserved = copied;
          }
          hash.update(buffer.subarray(0, bytesRead));
          await writeAll(dst, buffer.subarray(0, bytesRead));
        }
        await dst.datasync();
        return { size: copied, sha256: hash.digest("hex") };
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
  }

  take(bytes: number): void {
    this.t.budget.take(bytes, this.t);
    this.taken += bytes;
  }

  /** A capture that failed leaves nothing behind: its blobs are deleted and its bytes given back. */
  async discard(): Promise<void> {
    this.t.budget.give(this.taken, this.t.tool);
    for (const blob of this.blobs) await unlink(join(this.t.callDir, blob)).catch(() => {});
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += (await handle.write(data, offset, data.length - offset, null)).bytesWritten;
}


function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return "fifo";
  if (stat.isSocket()) return "socket";
  if (stat.isCharacterDevice()) return "character device";
  if (stat.isBlockDevice()) return "block device";
  return "special file";
}

function changedDuring(t: CaptureTarget): WardenError {
  return new WardenError("E_TOOL_FAILED", `filesystem: ${t.op} of ${toolPathOf(t.volume, t.rel)} refused: the path changed while its pre-image was recorded; retry`);
}
