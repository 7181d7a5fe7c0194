import { access } from "node:fs/promises";
import { ChainCursor } from "./chain.js";
import { readLines } from "./read-lines.js";
import { listRotatedFiles } from "./rotation.js";
import type { VerifyReport } from "./types.js";

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
export async function verifyAuditChain(file: string): Promise<VerifyReport> {
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
