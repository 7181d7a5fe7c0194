import { open, readFile } from "node:fs/promises";
import { errnoOf } from "./volume-walk.js";

/** What a path was before a call changed it. "absent": the call created it, so rollback removes it. */
export type PreImageKind = "absent" | "file" | "dir" | "symlink";

/** One line of `<callId>/entries.jsonl`. */
export interface JournalEntry {
  seq: number;
  /** seq of the first line of the mutation this line belongs to; a subtree capture shares one group. */
  group: number;
  volume: string;
  /** Inside the volume, "/"-separated, never empty (the volume root itself is never mutated). */
  path: string;
  kind: PreImageKind;
  /** Permission bits (mode & 0o7777); null for "absent" and symlinks. */
  mode: number | null;
  /** File name of the content inside the call folder (regular files only). */
  blob: string | null;
  size: number;
  /** Symlinks: the link text, restored verbatim. */
  target?: string;
  /** Set on the root line of an `rm -r` capture: rollback replaces the whole subtree with the recorded one. */
  subtree?: true;
  /** Regular files: sha256 (hex) of the blob as captured; rollback refuses a blob that no longer matches. */
  sha256?: string;
  /** Owner at capture time (a rollback run as root never creates root-owned nodes, see restore-owner.ts). */
  uid?: number;
  gid?: number;
  /** "dev:ino" of the volume root the call wrote into; rollback refuses a root that is another directory now. */
  root?: string;
}

/** One line of `<callId>/post.jsonl`: what a path looked like when the call's operation on it ended (post-image). */
export interface PostImage {
  volume: string;
  path: string;
  /** See post-image.ts: "absent", "dir", "symlink:<target>", "file:<sha256>" or "unverifiable". */
  state: string;
}

/** One line of `calls.jsonl`, the global order in which calls touched paths (to find later conflicting calls). */
export interface CallTouch {
  callId: string;
  tool: string;
  ts: string;
  volume: string;
  path: string;
  op: string;
}

export const ENTRIES_FILE = "entries.jsonl";
export const CALLS_FILE = "calls.jsonl";
export const ROLLED_BACK_FILE = "rolled-back.json";
export const CALL_FILE = "call.json";
export const POST_FILE = "post.jsonl";

/** Appends lines and fdatasyncs: the change that follows must never be on disk before its journal line. */
export async function appendDurably(file: string, lines: readonly unknown[]): Promise<number> {
  const bytes = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(""), "utf8");
  const handle = await open(file, "a", 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return bytes.length;
}

/**
 * Reads a JSON-lines file. A last line without its newline is a crash in the
 * middle of an append (its change never happened: the journal line comes first)
 * and is skipped; any other unreadable line is skipped too, and counted.
 */
export async function readJsonLines<T>(file: string): Promise<{ lines: T[]; skipped: number }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return { lines: [], skipped: 0 };
    throw err;
  }
  const parts = text.split("\n");
  const complete = parts.slice(0, -1);
  const lines: T[] = [];
  let skipped = parts.at(-1) === "" ? 0 : 1;
  for (const part of complete) {
    if (part === "") continue;
    try {
      lines.push(JSON.parse(part) as T);
    } catch {
      skipped++;
    }
  }
  return { lines, skipped };
}

/** Same volume, and one path equals or contains the other: a change to either changes what the other restores. */
export function pathsOverlap(a: { volume: string; path: string }, b: { volume: string; path: string }): boolean {
  if (a.volume !== b.volume) return false;
  return a.path === b.path || a.path.startsWith(`${b.path}/`) || b.path.startsWith(`${a.path}/`);
}

/** `/mnt/<volume>/<path>`: what the tool saw; the only form shown in messages and audit records (never host paths). */
export function toolPathOf(volume: string, path: string): string {
  // eslint-disable-next-line no-control-regex
  return `/mnt/${volume}/${path}`.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
