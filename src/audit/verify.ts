import { access } from "node:fs/promises";
import { ChainCursor } from "./chain.js";
import { readLines } from "./read-lines.js";
import { listRotatedFiles, PRUNE_RECORD_TOOL } from "./rotation.js";
import type { AuditRecord, PruneNote, VerifyReport } from "./types.js";

/**
 * Verifies the rotated files and the current file as one chain, oldest first,
 * and reports the first broken seq. Detects a changed record (any field), a
 * removed, reordered or inserted record, and a broken link between files.
 *
 * Limits, by design of a keyless hash chain: when older files were pruned the
 * oldest remaining record's prev is trusted (so deleting the oldest files
 * looks like pruning), and cutting records off the END of the newest file is
 * only visible against an external copy of `lastHash`.
 */
export async function verifyAuditChain(file: string, options: { onRecord?: (record: AuditRecord) => void } = {}): Promise<VerifyReport> {
  const files = (await listRotatedFiles(file)).map((r) => r.path);
  if (await exists(file)) files.push(file);
  const report: Required<VerifyReport> = {
    ok: true,
    records: 0,
    files,
    firstBrokenSeq: null,
    reason: null,
    tornTail: false,
    firstSeq: null,
    lastSeq: null,
    pruned: [],
  };
  if (files.length === 0) return { ...report, ok: false, reason: `no audit file at ${file}` };

  const cursor = new ChainCursor();
  for (const [index, path] of files.entries()) {
    const isLastFile = index === files.length - 1;
    for await (const line of readLines(path)) {
      if (!line.terminated) {
        // A torn line can only come from a crash while appending, i.e. at the very end.
        if (isLastFile) report.tornTail = true;
        else return broken(report, cursor.nextSeq, `incomplete last line in rotated file ${path}`);
        break;
      }
      const link = cursor.check(line.text);
      if (!link.ok) return broken(report, link.seq, link.reason);
      report.records += 1;
      report.firstSeq ??= link.record.seq;
      report.lastSeq = link.record.seq;
      const pruned = pruneNoteOf(link.record);
      if (pruned) report.pruned.push(pruned);
      options.onRecord?.(link.record);
    }
  }
  return report;
}

function broken(report: Required<VerifyReport>, seq: number | null, reason: string): VerifyReport {
  return { ...report, ok: false, firstBrokenSeq: seq, reason };
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** A pruning record (written by the log itself, see rotation.ts) as a line of the report. */
function pruneNoteOf(record: AuditRecord): PruneNote | null {
  if (record.tool !== PRUNE_RECORD_TOOL || record.actor !== "warden") return null;
  const pruned = record.pruned as { files?: unknown; throughSeq?: unknown } | undefined;
  if (!pruned || !Array.isArray(pruned.files) || typeof pruned.throughSeq !== "number") return null;
  return { seq: record.seq, ts: record.ts, files: pruned.files.map(String), throughSeq: pruned.throughSeq };
}
