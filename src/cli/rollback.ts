import { randomUUID } from "node:crypto";
import { appendOrSpool, liveLockHolder, openAuditLog, type AuditDelivery, type AuditEntry, type AuditLogOptions } from "../audit/index.js";
import { loadConfigFile, type LoadedConfig } from "../config/load.js";
import { WardenError } from "../errors.js";
import {
  changesSinceCall,
  findConflicts,
  isCallId,
  journalDirOf,
  journalRoot,
  markRolledBack,
  readCallRecord,
  recordForcedRollback,
  restoreCall,
  toolPathOf,
  type Conflict,
  volumePathOf,
  type OutsideChange,
} from "../journal/index.js";
import { createLogger } from "../logger.js";
import { reportCliError } from "./errors.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from "./types.js";

const USAGE = "usage: warden rollback <callId> [--force]   (the callId of a call, as in the audit log)\n";

interface Outcome {
  ok: boolean;
  errorCode: string | null;
  files: AuditEntry["files"];
  conflicts: string[];
}

/**
 * `warden rollback <callId> [--force]` (SPEC §14): puts back what one call
 * changed through ctx.fs. Refuses (exit 1) when a later call changed the
 * same paths, because restoring would silently undo that call too; --force
 * does it anyway. Every attempt is audited, refused ones included, and the
 * rollback does not start unless its record can be written.
 */
export const rollbackCommand: CliCommand = async ({ positionals, flags, configPath }, io) => {
  const [callId] = positionals;
  if (!callId || positionals.length !== 1 || !isCallId(callId)) {
    io.stderr(USAGE);
    return EXIT_USAGE;
  }
  const force = flags.force === true;
  const started = Date.now();
  const rollbackId = randomUUID();
  let loaded: LoadedConfig;
  let auditOptions: AuditLogOptions;
  try {
    loaded = await loadConfigFile(configPath);
    auditOptions = {
      logger: createLogger({ level: process.env.WARDEN_LOG_LEVEL ?? "warn" }),
      ...(loaded.config.audit.maxBytes ? { maxBytes: loaded.config.audit.maxBytes } : {}),
      ...(loaded.config.audit.retainDays ? { retainDays: loaded.config.audit.retainDays } : {}),
    };
    // Fail closed: an unaudited rollback is not allowed, so check the log (or the live server's spool) first.
    if ((await liveLockHolder(loaded.config.audit.file)) === null) await (await openAuditLog(loaded.config.audit.file, { ...auditOptions, spoolIntervalMs: 0 })).close();
  } catch (err) {
    return reportCliError(err, io);
  }
  let outcome: Outcome;
  try {
    outcome = await rollBack(loaded, callId, force, rollbackId, io);
  } catch (err) {
    reportCliError(err, io);
    outcome = { ok: false, errorCode: err instanceof WardenError ? err.code : "E_TOOL_FAILED", files: [], conflicts: [] };
  }
  const entry: AuditEntry = {
    ts: new Date(started).toISOString(),
    callId: rollbackId,
    actor: "cli",
    tool: "warden.rollback",
    version: null,
    digest: null,
    effect: null,
    input: { callId, force },
    outcome: outcome.ok ? "ok" : "error",
    errorCode: outcome.errorCode,
    durationMs: Date.now() - started,
    outputSha256: null,
    outputBytes: 0,
    egress: [],
    files: outcome.files,
    confirmedBy: null,
    ...(outcome.conflicts.length > 0 ? { conflicts: outcome.conflicts } : {}),
  };
  try {
    io.stdout(describeDelivery(await appendOrSpool(loaded.config.audit.file, entry, auditOptions)));
  } catch (err) {
    io.stderr(`warden: the rollback's audit record could not be written${outcome.ok ? " (the files WERE restored)" : ""}\n`);
    reportCliError(err, io);
    return EXIT_FAILED;
  }
  return outcome.ok ? EXIT_OK : EXIT_FAILED;
};

async function rollBack(loaded: LoadedConfig, callId: string, force: boolean, rollbackId: string, io: CliIo): Promise<Outcome> {
  const dir = journalDirOf(loaded);
  const record = await readCallRecord(dir, callId);
  if (!record) {
    io.stderr(`warden: no journal for call ${callId}: it changed no file through ctx.fs, or it was pruned (journal.retainDays)\n`);
    return { ok: false, errorCode: "E_NO_JOURNAL", files: [], conflicts: [] };
  }
  if (record.rolledBack && !force) {
    io.stderr(`warden: call ${callId} was already rolled back at ${record.rolledBack.ts}; pass --force to restore its pre-images again\n`);
    return { ok: false, errorCode: "E_ALREADY_ROLLED_BACK", files: [], conflicts: [] };
  }
  const conflicts = await findConflicts(dir, callId);
  const conflictIds = conflicts.map((c) => c.callId);
  if (conflicts.length > 0 && !force) {
    io.stderr(describeConflicts(callId, conflicts));
    return { ok: false, errorCode: "E_CONFLICT", files: [], conflicts: conflictIds };
  }
  // Changes the journal never saw (a container tool, the operator, any process): restoring would destroy them.
  const outside = await changesSinceCall(record.entries, record.posts, async (volume, id) => {
    const host = volumePathOf(loaded.config.volumes, volume);
    return host ? journalRoot(volume, host, id).catch(() => null) : null;
  });
  if (outside.length > 0 && !force) {
    io.stderr(describeOutsideChanges(callId, outside));
    const files: AuditEntry["files"] = outside.map((o) => ({ volume: o.volume, path: toolPathOf(o.volume, o.path), op: "rollback", denied: o.reason }));
    return { ok: false, errorCode: "E_CONFLICT", files, conflicts: conflictIds };
  }
  const result = await restoreCall(dir, record, loaded.config.volumes);
  if (conflicts.length > 0 && result.restored.length > 0) await recordForcedRollback(dir, rollbackId, result.restored);
  const files: AuditEntry["files"] = result.restored.map((r) => ({ volume: r.volume, path: toolPathOf(r.volume, r.path), op: "rollback" }));
  for (const f of result.failures) files.push({ volume: f.volume, path: toolPathOf(f.volume, f.path), op: "rollback", denied: "not restored" });
  if (result.failures.length > 0) {
    io.stderr(`warden: rollback of call ${callId} is INCOMPLETE; not restored:\n${result.failures.map((f) => `  ${toolPathOf(f.volume, f.path)}: ${f.reason}\n`).join("")}`);
    return { ok: false, errorCode: "E_ROLLBACK_INCOMPLETE", files, conflicts: conflictIds };
  }
  await markRolledBack(dir, callId, { ts: new Date().toISOString(), by: rollbackId, force });
  io.stdout(
    `rolled back call ${callId} (${record.tool}, ${record.ts}): restored ${result.restored.length} path(s), ${result.nodes} file(s)/folder(s)/link(s)` +
      `${conflicts.length > 0 ? `, overriding later call(s) ${conflictIds.join(", ")} (--force)` : ""}\n` +
      result.restored.map((r) => `  ${toolPathOf(r.volume, r.path)}\n`).join(""),
  );
  return { ok: true, errorCode: null, files, conflicts: conflictIds };
}

function describeConflicts(callId: string, conflicts: Conflict[]): string {
  const lines = conflicts.map((c) => `  ${c.callId} (${c.tool}, ${c.ts}): ${c.paths.map((p) => toolPathOf(p.volume, p.path)).join(", ")}\n`);
  return (
    `warden: refusing to roll back call ${callId}: later calls changed the same paths, and restoring would undo their changes too:\n${lines.join("")}` +
    `roll those back first (newest first), or pass --force to overwrite their changes\n`
  );
}

function describeOutsideChanges(callId: string, changes: OutsideChange[]): string {
  const shown = changes.slice(0, 50).map((c) => `  ${toolPathOf(c.volume, c.path)}: ${c.reason}\n`);
  return (
    `warden: refusing to roll back call ${callId}: paths it changed were changed again since, outside the journal (a container tool, the operator or another process), and restoring would destroy that:\n${shown.join("")}` +
    `${changes.length > 50 ? `  … and ${changes.length - 50} more\n` : ""}check them, then pass --force to restore the call's pre-images anyway\n`
  );
}

function describeDelivery(delivery: AuditDelivery): string {
  return delivery.via === "chain"
    ? `audit: recorded in the audit chain as seq ${delivery.seq}\n`
    : `audit: the audit log is held by a running warden (pid ${delivery.heldBy}); the record was spooled to ${delivery.path} and that process seals it into the chain within a second\n`;
}
