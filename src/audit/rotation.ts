import { readdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Logger } from "../logger.js";
import type { AuditEntry } from "./types.js";

export interface RotatedFile {
  path: string;
  firstSeq: number;
  lastSeq: number;
}

const SEQ_DIGITS = 12;

/** `<file>.<firstSeq>-<lastSeq>`, zero-padded so `ls` order is chain order. */
export function rotatedFileName(file: string, firstSeq: number, lastSeq: number): string {
  const pad = (n: number) => String(n).padStart(SEQ_DIGITS, "0");
  return `${file}.${pad(firstSeq)}-${pad(lastSeq)}`;
}

/** The rotated siblings of `file`, oldest first (ordered by seq, not by name or mtime). */
export async function listRotatedFiles(file: string): Promise<RotatedFile[]> {
  const dir = dirname(file);
  const prefix = `${basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const rotated: RotatedFile[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)-(\d+)$/.exec(name.slice(prefix.length));
    if (!match) continue;
    rotated.push({ path: join(dir, name), firstSeq: Number(match[1]), lastSeq: Number(match[2]) });
  }
  return rotated.sort((a, b) => a.firstSeq - b.firstSeq);
}

/**
 * Deletes rotated files whose newest record is older than `retainDays` (file
 * mtime = time of its last write). Only a prefix of the chain is removed —
 * deleting a file in the middle would make the chain unverifiable — and
 * verification then starts from the oldest remaining file, trusting its
 * first prev. The pruning is logged so a shorter chain is explained.
 */
export async function pruneRotatedFiles(file: string, retainDays: number, logger: Logger, now = Date.now()): Promise<RotatedFile[]> {
  const cutoff = now - retainDays * 86_400_000;
  const pruned: RotatedFile[] = [];
  for (const rotated of await listRotatedFiles(file)) {
    if ((await stat(rotated.path)).mtimeMs >= cutoff) break;
    await unlink(rotated.path);
    pruned.push(rotated);
  }
  const last = pruned.at(-1);
  if (last) {
    logger.info(
      { event: "audit.pruned", files: pruned.map((p) => basename(p.path)), throughSeq: last.lastSeq, retainDays },
      `audit: pruned ${pruned.length} rotated file(s) older than ${retainDays} days (records up to seq ${last.lastSeq}); verification now starts at seq ${last.lastSeq + 1}`,
    );
  }
  return pruned;
}

/** The tool name of a pruning record: not a tool, so no tool can produce it. */
export const PRUNE_RECORD_TOOL = "warden.audit.prune";

/**
 * The chain record of a pruning (issue 11): `audit verify` reads it to say
 * what was deleted and when, instead of the chain silently starting later.
 */
export function prunedEntry(pruned: RotatedFile[], retainDays: number): AuditEntry {
  return {
    ts: new Date().toISOString(),
    callId: `prune-${randomUUID()}`,
    actor: "warden",
    tool: PRUNE_RECORD_TOOL,
    version: null,
    digest: null,
    effect: null,
    input: { retainDays },
    outcome: "ok",
    errorCode: null,
    durationMs: 0,
    outputSha256: null,
    outputBytes: 0,
    egress: [],
    files: [],
    confirmedBy: null,
    pruned: { files: pruned.map((p) => basename(p.path)), firstSeq: pruned[0]?.firstSeq ?? null, throughSeq: pruned.at(-1)?.lastSeq ?? null },
  };
}
