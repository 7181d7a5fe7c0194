import type { VerifyReport } from "./types.js";

/** The human lines `warden audit verify` prints. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  const files = `${report.files.length} ${report.files.length === 1 ? "file" : "files"}`;
  if (report.ok) {
    lines.push(`ok: ${report.records} records verified in ${files}`);
  } else if (report.firstBrokenSeq !== null) {
    lines.push(`BROKEN at seq ${report.firstBrokenSeq}: ${report.reason ?? "unknown reason"}`);
    lines.push(`${report.records} records verified before it in ${files}`);
  } else {
    lines.push(`BROKEN: ${report.reason ?? "unknown reason"}`);
  }
  if (report.tornTail) {
    const after = report.lastSeq ?? report.records;
    lines.push(`torn last line after seq ${after} (crash during write), chain intact before it`);
  }
  for (const p of report.pruned ?? []) {
    lines.push(`pruned: records through seq ${p.throughSeq} (${p.files.length} ${p.files.length === 1 ? "file" : "files"}: ${p.files.join(", ")}) at ${p.ts}, recorded as seq ${p.seq}`);
  }
  if (report.firstSeq != null && report.firstSeq > 1) {
    const explained = (report.pruned ?? []).some((p) => p.throughSeq + 1 >= report.firstSeq!);
    lines.push(
      explained
        ? `note: the chain starts at seq ${report.firstSeq} (older files pruned); its prev hash is trusted, not checked`
        : `note: the chain starts at seq ${report.firstSeq} (older files pruned); its prev hash is trusted, not checked — no pruning record in the chain covers seq ${report.firstSeq - 1}`,
    );
  }
  return lines.join("\n");
}
