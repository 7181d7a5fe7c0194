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
  /** The current file holds records; the seq of its first one is read only when it is rotated. */
  fileHasRecords: boolean;
}

interface TailRecord {
  last: { record: AuditRecord; text: string } | null;
  /** Offset just past the last complete line (the torn tail, if any, starts here). */
  completeBytes: number;
  torn: { start: number; bytes: number } | null;
}

/**
 * Finds the last good record so a reopened log continues the same chain,
 * reading only the end of the file: its last record (issue 11: opening a
 * 200 MB log must not read 200 MB; SPEC §14).
 *
 * - A torn last line (a crash in the middle of a write) is cut off with a
 *   warning: its append never resolved, so no caller was told it was logged.
 * - The last record's own hash is checked (and, when it is seq 1, its genesis
 *   link); a mismatch is logged as an error, but the log still opens and
 *   appends after it, because refusing every call forever would turn one
 *   tampered line into a denial of service. A break anywhere else is found by
 *   `warden audit verify`, which reads everything.
 */
export async function recoverChain(file: string, logger: Logger): Promise<ChainTail> {
  const rotated = await lastRecordOfRotatedFiles(file, logger);
  const tail: ChainTail = {
    nextSeq: rotated ? rotated.seq + 1 : 1,
    lastHash: rotated?.hash ?? GENESIS_HASH,
    fileBytes: 0,
    fileHasRecords: false,
  };
  if (!(await isNonEmptyFile(file))) return tail;

  const found = await lastRecord(file);
  tail.fileBytes = found.completeBytes;
  if (found.torn) {
    logger.warn(
      { event: "audit.torn_tail", file, bytes: found.torn.bytes, afterSeq: found.last?.record.seq ?? null },
      "audit: the last line was cut short by a crash during a write; removing it (its call was never confirmed as logged)",
    );
    await truncateTornTail(file, found.torn.start);
  }
  if (!found.last) return tail;

  const link = new ChainCursor().checkParsed(found.last.text, found.last.record);
  if (!link.ok) {
    logger.error(
      { event: "audit.chain_broken", file, seq: found.last.record.seq, reason: link.reason },
      `audit: hash chain BROKEN at seq ${found.last.record.seq}: ${link.reason}; run "warden audit verify" — appending continues after the last record`,
    );
  }
  tail.nextSeq = found.last.record.seq + 1;
  tail.lastHash = found.last.record.hash;
  tail.fileHasRecords = true;
  return tail;
}

/** The last parseable record, walking back from the end (lines that are not records are skipped). */
async function lastRecord(file: string): Promise<TailRecord> {
  const out: TailRecord = { last: null, completeBytes: 0, torn: null };
  let sawComplete = false;
  for await (const line of readLinesBackward(file)) {
    if (!line.terminated) {
      out.torn = { start: line.start, bytes: line.end - line.start };
      continue;
    }
    if (!sawComplete) out.completeBytes = line.end;
    sawComplete = true;
    const record = parseRecordLine(line.text);
    if (record) {
      out.last = { record, text: line.text };
      break;
    }
  }
  return out;
}

/** seq of the first record of a file (read when the file is rotated, to name it). */
export async function firstSeqOf(file: string): Promise<number | null> {
  for await (const line of readLines(file)) {
    const record = line.terminated ? parseRecordLine(line.text) : null;
    if (record) return record.seq;
  }
  return null;
}

/** The last record of the newest rotated file (null when there is none: the chain is unanchored). */
async function lastRecordOfRotatedFiles(file: string, logger: Logger): Promise<AuditRecord | null> {
  const newest = (await listRotatedFiles(file)).at(-1);
  if (!newest) return null;
  const { last } = await lastRecord(newest.path);
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
