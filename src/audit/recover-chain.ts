import { open, stat } from "node:fs/promises";
import type { Logger } from "../logger.js";
import { ChainCursor, GENESIS_HASH, parseRecordLine } from "./chain.js";
import { readLines } from "./read-lines.js";
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

/**
 * Finds the last good record so a reopened log continues the same chain.
 *
 * - A torn last line (a crash in the middle of a write) is cut off with a
 *   warning: its append never resolved, so no caller was told it was logged.
 * - A broken link inside the current file is not accepted silently: it is
 *   logged as an error (and `verifyAuditChain` reports it), but the log still
 *   opens and appends after the last parseable record, because refusing every
 *   call forever would turn one tampered line into a denial of service.
 *
 * The current file is read in full (bounded by `maxBytes` when rotation is
 * on); rotated files are only consulted for their last record.
 */
export async function recoverChain(file: string, logger: Logger): Promise<ChainTail> {
  const cursor = await cursorAfterRotatedFiles(file, logger);
  const tail: ChainTail = {
    nextSeq: cursor.nextSeq ?? 1,
    lastHash: cursor.lastHash ?? GENESIS_HASH,
    fileBytes: 0,
    fileFirstSeq: null,
    fileLastSeq: null,
  };
  if (!(await isNonEmptyFile(file))) return tail;

  let chainBroken = false;
  let last: AuditRecord | null = null;
  for await (const line of readLines(file)) {
    if (!line.terminated) {
      logger.warn(
        { event: "audit.torn_tail", file, bytes: line.end - line.start, afterSeq: last?.seq ?? null },
        "audit: the last line was cut short by a crash during a write; removing it (its call was never confirmed as logged)",
      );
      await truncateTornTail(file, line.start);
      break;
    }
    tail.fileBytes = line.end;
    let record: AuditRecord | null;
    if (chainBroken) {
      record = parseRecordLine(line.text);
    } else {
      const link = cursor.check(line.text);
      record = link.ok ? link.record : parseRecordLine(line.text);
      if (!link.ok) {
        chainBroken = true;
        logger.error(
          { event: "audit.chain_broken", file, seq: link.seq, reason: link.reason },
          `audit: hash chain BROKEN at seq ${link.seq}: ${link.reason}; run "warden audit verify" — appending continues after the last record`,
        );
      }
    }
    if (record) {
      last = record;
      tail.fileFirstSeq ??= record.seq;
      tail.fileLastSeq = record.seq;
    }
  }
  if (last) {
    tail.nextSeq = last.seq + 1;
    tail.lastHash = last.hash;
  }
  return tail;
}

/** The chain position after the newest rotated file, or unanchored when there is none. */
async function cursorAfterRotatedFiles(file: string, logger: Logger): Promise<ChainCursor> {
  const newest = (await listRotatedFiles(file)).at(-1);
  if (!newest) return new ChainCursor();
  let last: AuditRecord | null = null;
  for await (const line of readLines(newest.path)) {
    const record = line.terminated ? parseRecordLine(line.text) : null;
    if (record) last = record;
  }
  if (!last) {
    logger.error({ event: "audit.chain_broken", file: newest.path }, "audit: the newest rotated file holds no readable record");
    return new ChainCursor();
  }
  return new ChainCursor(last.seq + 1, last.hash);
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
