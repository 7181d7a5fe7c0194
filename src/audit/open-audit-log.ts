import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { WardenError } from "../errors.js";
import { createLogger } from "../logger.js";
import { openAuditAppend, syncDirectory } from "./audit-file.js";
import { FileAuditLog } from "./file-audit-log.js";
import { recoverChain } from "./recover-chain.js";
import { acquireProcessLock, type ProcessLock } from "./process-lock.js";
import { MIN_MAX_RECORD_BYTES } from "./record-bound.js";
import { prunedEntry, pruneRotatedFiles, type RotatedFile } from "./rotation.js";
import { DEFAULT_SPOOL_INTERVAL_MS, ingestSpool, startSpoolIngestion } from "./spool.js";
import type { AuditLog, AuditLogOptions } from "./types.js";

const openFiles = new Set<string>();

/** Rotation when `audit.maxBytes` is not set (SPEC §14): 80,000 calls with 1 KiB inputs made 107 MB without it. */
export const DEFAULT_AUDIT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Opens (or creates) the audit file and resumes its chain. Appends are group
 * committed: each resolves only after its line is written and fdatasync'd.
 */
export async function openAuditLog(file: string, requested: AuditLogOptions = {}): Promise<AuditLog> {
  checkOptions(requested);
  const options = { ...requested, maxBytes: requested.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES };
  const logger = options.logger ?? createLogger();
  const key = resolve(file);
  // Two writers on one file would both append "seq N after hash H": a forked chain that verify must call broken.
  if (openFiles.has(key)) throw new WardenError("E_AUDIT", `the audit log ${file} is already open in this process; close it first`, { heldBy: process.pid });
  openFiles.add(key);
  let lock: ProcessLock | null = null;
  try {
    await mkdir(dirname(file), { recursive: true });
    // The same, across processes (a second server, or a CLI command while the server runs).
    lock = await acquireProcessLock(file);
    const tail = await recoverChain(file, logger);
    const pruned: RotatedFile[] = options.retainDays !== undefined ? await pruneRotatedFiles(file, options.retainDays, logger) : [];
    const handle = await openAuditAppend(file);
    // A new (empty) file's directory entry must survive a power cut; an existing one's already does,
    // and skipping the fsync keeps a reopen from waiting on the disk (issue 11: open in milliseconds).
    if ((await handle.stat()).size === 0) await syncDirectory(dirname(file));
    const held = lock;
    let spool: { stop(): void } | null = null;
    const log = new FileAuditLog(file, handle, tail, options, logger, () => {
      spool?.stop();
      held.release();
      openFiles.delete(key);
    });
    if (pruned.length > 0) {
      // The pruning is a chain record, so `audit verify` can say what was deleted and when.
      await log.append(prunedEntry(pruned, options.retainDays!)).catch((err: unknown) => {
        logger.error({ event: "audit.prune_record_failed", err: (err as Error).message }, "audit: could not record the pruning in the chain");
      });
    }
    // Entries other processes spooled while we held the log (or while nobody did) join the chain now, then every interval.
    await ingestSpool(log, file, logger).catch((err: unknown) => {
      logger.error({ event: "audit.spool_failed", err: (err as Error).message }, "audit: ingesting spooled entries failed; they stay spooled");
    });
    const interval = options.spoolIntervalMs ?? DEFAULT_SPOOL_INTERVAL_MS;
    if (interval > 0) spool = startSpoolIngestion(log, file, logger, interval);
    return log;
  } catch (err) {
    lock?.release();
    openFiles.delete(key);
    if (err instanceof WardenError) throw err;
    throw new WardenError("E_AUDIT", `cannot open the audit log: ${(err as Error).message}`);
  }
}

function checkOptions(options: AuditLogOptions): void {
  if (options.maxBytes !== undefined && !(Number.isSafeInteger(options.maxBytes) && options.maxBytes > 0)) {
    throw new WardenError("E_CONFIG", `audit.maxBytes must be a positive integer, got ${String(options.maxBytes)}`);
  }
  if (options.maxRecordBytes !== undefined && !(Number.isSafeInteger(options.maxRecordBytes) && options.maxRecordBytes >= MIN_MAX_RECORD_BYTES)) {
    throw new WardenError("E_CONFIG", `audit.maxRecordBytes must be an integer of at least ${MIN_MAX_RECORD_BYTES}, got ${String(options.maxRecordBytes)}`);
  }
  if (options.retainDays !== undefined && !(Number.isFinite(options.retainDays) && options.retainDays > 0)) {
    throw new WardenError("E_CONFIG", `audit.retainDays must be a positive number, got ${String(options.retainDays)}`);
  }
}
