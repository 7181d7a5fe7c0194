import { open, stat } from "node:fs/promises";
import type { Logger } from "../logger.js";
import { ChainCursor, GENESIS_HASH, parseRecordLine } from "./chain.js";
import { readLines, readLinesBackward } from "./read-lines.js";
import { listRotatedFiles } from "./rotation.js";
import type { AuditRecord } from "./types.js";

/** Where appending resumes, and what the current file already holds. */
export interface ChainTail {
  nextSeq: number;
  lastHash: string;
  /** Bytes in the current file after a torn tail was cut off. */
  fileBytes: number;
  /** seq of the first record in the current file (null when it holds none). */
  fileFirstSeq: number | null;
  fileLastSeq: number | null;
}

interface TailRecords {
  last: { record: AuditRecord; text: string } | null;
  previous: AuditRecord | null;
  /** Offset just past the last complete line (the torn tail, if any, starts here). */
  completeBytes: number;
  torn: { start: number; bytes: number } | null;
}

/**
 * Finds the last good record so a reopened log continues the same chain,
 * reading only the end of the file (issue 11: opening a 200 MB log must not
 * read 200 MB; SPEC §14).
 *
 * - A torn last line (a crash in the middle of a write) is cut off with a
 *   warning: its append never resolved, so no caller was told it was logged.
 * - The last record's own hash and its link to the record before it (or to
 *   the newest rotated file) are checked; a break is logged as an error, but
 *   the log still opens and appends after it, because refusing every call
 *   forever would turn one tampered line into a denial of service. A break
 *   further back is found by `warden audit verify`, which reads everything.
 */
export async function recoverChain(file: string, logger: Logger): Promise<ChainTail> {
  const rotated = await lastRecordOfRotatedFiles(file, logger);
  const tail: ChainTail = {
    nextSeq: rotated ? rotated.seq + 1 : 1,
    lastHash: rotated?.hash ?? GENESIS_HASH,
    fileBytes: 0,
    fileFirstSeq: null,
    fileLastSeq: null,
  };
  if (!(await isNonEmptyFile(file))) return tail;

  const found = await lastRecords(file);
  tail.fileBytes = found.completeBytes;
  if (found.torn) {
    logger.warn(
      { event: "audit.torn_tail", file, bytes: found.torn.bytes, afterSeq: found.last?.record.seq ?? null },
      "audit: the last line was cut short by a crash during a write; removing it (its call was never confirmed as logged)",
    );
    await truncateTornTail(file, found.torn.start);
  }
  if (!found.last) return tail;

  const anchor = found.previous ?? rotated;
  const link = (anchor ? new ChainCursor(anchor.seq + 1, anchor.hash) : new ChainCursor()).check(found.last.text);
  if (!link.ok) {
    logger.error(
      { event: "audit.chain_broken", file, seq: link.seq, reason: link.reason },
      `audit: hash chain BROKEN at seq ${link.seq}: ${link.reason}; run "warden audit verify" — appending continues after the last record`,
    );
  }
  tail.nextSeq = found.last.record.seq + 1;
  tail.lastHash = found.last.record.hash;
  tail.fileLastSeq = found.last.record.seq;
  tail.fileFirstSeq = (await firstRecord(file))?.seq ?? found.last.record.seq;
  return tail;
}

/** The last two parseable records, walking back from the end (lines that are not records are skipped). */
async function lastRecords(file: string): Promise<TailRecords> {
  const out: TailRecords = { last: null, previous: null, completeBytes: 0, torn: null };
  let sawComplete = false;
  for await (const line of readLinesBackward(file)) {
    if (!line.terminated) {
      out.torn = { start: line.start, bytes: line.end - line.start };
      continue;
    }
    if (!sawComplete) out.completeBytes = line.end;
    sawComplete = true;
    const record = parseRecordLine(line.text);
    if (!record) continue;
    if (!out.last) {
      out.last = { record, text: line.text };
      continue;
    }
    out.previous = record;
    break;
  }
  return out;
}

async function firstRecord(file: string): Promise<AuditRecord | null> {
  for await (const line of readLines(file)) {
    const record = line.terminated ? parseRecordLine(line.text) : null;
    if (record) return record;
  }
  return null;
}

/** The last record of the newest rotated file (null when there is none: the chain is unanchored). */
async function lastRecordOfRotatedFiles(file: string, logger: Logger): Promise<AuditRecord | null> {
  const newest = (await listRotatedFiles(file)).at(-1);
  if (!newest) return null;
  const { last } = await lastRecords(newest.path);
  if (!last) logger.error({ event: "audit.chain_broken", file: newest.path }, "audit: the newest rotated file holds no readable record");
  return last?.record ?? null;
}

async function isNonEmptyFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

async function truncateTornTail(file: string, length: number): Promise<void> {
  const handle = await open(file, "r+");
  try {
    await handle.truncate(length);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
