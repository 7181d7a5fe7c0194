/**
 * Audit records from a second process. The live server holds the audit file
 * (process-lock.ts), so a CLI command that must be audited while the server
 * runs (`warden rollback`) cannot append itself. It drops its entry into
 * `<file>.spool/` instead, and the holder of the log seals spooled entries
 * into the chain: once when it opens the log and then every 500 ms.
 *
 * - A spool file appears complete or not at all: written to a temp name,
 *   fsync'd, renamed, and the directory fsync'd.
 * - A spool file is deleted only after its record is durable in the chain.
 *   A crash between the two re-ingests it at the next open: a record may
 *   appear twice, never zero times.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { WardenError } from "../errors.js";
import type { Logger } from "../logger.js";
import { syncDirectory, writeAndSync } from "./audit-file.js";
import { openAuditLog } from "./open-audit-log.js";
import { PRUNE_RECORD_TOOL } from "./rotation.js";
import type { AuditEntry, AuditLog, AuditLogOptions } from "./types.js";

export const DEFAULT_SPOOL_INTERVAL_MS = 500;

export function spoolDirOf(file: string): string {
  return `${file}.spool`;
}

/** Writes one entry for the log's holder to ingest. Returns the spool file's path. */
export async function spoolAuditEntry(file: string, entry: AuditEntry): Promise<string> {
  const dir = spoolDirOf(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Time first (zero-padded) so name order is arrival order; random part so two writers never collide.
  const name = `${String(Date.now()).padStart(15, "0")}-${process.pid}-${randomBytes(6).toString("hex")}.json`;
  const tmp = join(dir, `.${name}.tmp`);
  const handle = await open(tmp, "wx", 0o600);
  try {
    await writeAndSync(handle, Buffer.from(JSON.stringify(entry), "utf8"));
  } finally {
    await handle.close();
  }
  await rename(tmp, join(dir, name));
  await syncDirectory(dir);
  return join(dir, name);
}

const ingesting = new Set<AuditLog>();

/** Seals every spooled entry into `log` (oldest first); returns how many. Overlapping runs on one log are skipped. */
export async function ingestSpool(log: AuditLog, file: string, logger: Logger): Promise<number> {
  if (ingesting.has(log)) return 0;
  ingesting.add(log);
  try {
    return await ingestOnce(log, file, logger);
  } finally {
    ingesting.delete(log);
  }
}

async function ingestOnce(log: AuditLog, file: string, logger: Logger): Promise<number> {
  const dir = spoolDirOf(file);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json") && !n.startsWith(".")).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  let count = 0;
  for (const name of names) {
    const path = join(dir, name);
    const entry = await readSpooled(path);
    if (!entry) {
      // Kept aside, not deleted: an operator can still see what someone tried to slip in.
      await rename(path, `${path}.rejected`).catch(() => {});
      logger.error({ event: "audit.spool_rejected", file: `${path}.rejected` }, "audit: a spooled entry is not a valid audit entry; kept aside, not logged");
      continue;
    }
    const record = await log.append(entry);
    await unlink(path);
    count++;
    logger.info({ event: "audit.spool_ingested", seq: record.seq, tool: record.tool, callId: record.callId }, "audit: ingested a spooled entry from another process");
  }
  if (count > 0) await syncDirectory(dir);
  return count;
}

async function readSpooled(path: string): Promise<AuditEntry | null> {
  try {
    const entry = JSON.parse(await readFile(path, "utf8")) as Partial<AuditEntry> | null;
    const valid =
      entry !== null &&
      typeof entry === "object" &&
      !Array.isArray(entry) &&
      typeof entry.ts === "string" &&
      typeof entry.callId === "string" &&
      typeof entry.tool === "string" &&
      typeof entry.actor === "string" &&
      (entry.outcome === "ok" || entry.outcome === "error") &&
      // Only the log itself writes pruning records: a spooled one would make verify explain away deleted files.
      entry.tool !== PRUNE_RECORD_TOOL &&
      !("seq" in entry || "prev" in entry || "hash" in entry);
    return valid ? (entry as AuditEntry) : null;
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}

/** The holder's periodic ingestion; failures are logged, never thrown (appends go on). */
export function startSpoolIngestion(log: AuditLog, file: string, logger: Logger, intervalMs: number): { stop(): void } {
  const timer = setInterval(() => {
    ingestSpool(log, file, logger).catch((err: unknown) => {
      if (err instanceof WardenError && /closed/.test(err.message)) return;
      logger.error({ event: "audit.spool_failed", err: (err as Error).message }, "audit: ingesting spooled entries failed; they stay spooled");
    });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export type AuditDelivery = { via: "chain"; seq: number } | { via: "spool"; path: string; heldBy: number };

/**
 * For a short-lived process (a CLI command): append straight into the chain
 * when nobody holds the log, else spool for the live holder. The log is held
 * only for this one append, so a server starting meanwhile is not refused.
 */
export async function appendOrSpool(file: string, entry: AuditEntry, options: AuditLogOptions): Promise<AuditDelivery> {
  let log: AuditLog;
  try {
    log = await openAuditLog(file, { ...options, spoolIntervalMs: 0 });
  } catch (err) {
    const heldBy = err instanceof WardenError ? err.details?.heldBy : undefined;
    if (typeof heldBy !== "number") throw err;
    return { via: "spool", path: await spoolAuditEntry(file, entry), heldBy };
  }
  try {
    return { via: "chain", seq: (await log.append(entry)).seq };
  } finally {
    await log.close();
  }
}
