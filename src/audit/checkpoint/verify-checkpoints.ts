import type { KeyObject } from "node:crypto";
import { access } from "node:fs/promises";
import { WardenError } from "../../errors.js";
import { readLines } from "../read-lines.js";
import type { VerifyReport } from "../types.js";
import { verifyAuditChain } from "../verify.js";
import { CheckpointSchema, checkpointSignatureValid, type Checkpoint } from "./checkpoint.js";

export interface CheckpointVerifyReport {
  ok: boolean;
  chain: VerifyReport;
  /** Checkpoints whose signature and (seq, hash) were checked against the chain. */
  checkpoints: number;
  /** Checkpoints older than the oldest remaining record (pruned): signature checked, position not. */
  beforeChain: number;
  /** The first seq missing from the chain or differing from a checkpoint. */
  firstBadSeq: number | null;
  reason: string | null;
}

/**
 * `warden audit verify --checkpoints F --pubkey K` (SPEC §10): every
 * checkpoint's signature is valid, checkpoints come in increasing seq (a
 * reordered or replayed file fails), each `(seq, hash)` is in the chain
 * (rotated files included), and the chain reaches the last checkpoint. This
 * is what a keyless chain cannot show: a cut tail, or a chain rewritten from
 * some record on with fresh, valid hashes.
 */
export async function verifyWithCheckpoints(file: string, checkpointsFile: string, publicKey: KeyObject): Promise<CheckpointVerifyReport> {
  const loaded = await readCheckpoints(checkpointsFile, publicKey);
  const wanted = new Map<number, string>();
  for (const c of loaded.checkpoints) wanted.set(c.seq, c.hash);
  const found = new Map<number, string>();
  const chain = await verifyAuditChain(file, {
    onRecord: (record) => {
      if (wanted.has(record.seq)) found.set(record.seq, record.hash);
    },
  });
  const report: CheckpointVerifyReport = { ok: false, chain, checkpoints: 0, beforeChain: 0, firstBadSeq: null, reason: null };
  if (loaded.error) return { ...report, firstBadSeq: loaded.error.seq, reason: loaded.error.reason };
  if (!chain.ok) return { ...report, firstBadSeq: chain.firstBrokenSeq, reason: `the chain itself is broken: ${chain.reason ?? "unknown"}` };

  const first = chain.firstSeq ?? 1;
  const last = chain.lastSeq ?? 0;
  for (const c of loaded.checkpoints) {
    if (c.seq < first) {
      report.beforeChain++;
      continue;
    }
    if (c.seq > last) {
      return {
        ...report,
        firstBadSeq: last + 1,
        reason: `the chain ends at seq ${last} but a checkpoint signed at ${c.ts} covers seq ${c.seq}: records from seq ${last + 1} are missing (tail cut)`,
      };
    }
    if (found.get(c.seq) !== c.hash) {
      return { ...report, firstBadSeq: c.seq, reason: `seq ${c.seq} differs from the checkpoint signed at ${c.ts} (the chain was rewritten at or before it)` };
    }
    report.checkpoints++;
  }
  return { ...report, ok: true };
}

interface LoadedCheckpoints {
  checkpoints: Checkpoint[];
  error: { seq: number | null; reason: string } | null;
}

async function readCheckpoints(file: string, publicKey: KeyObject): Promise<LoadedCheckpoints> {
  await access(file).catch((err: NodeJS.ErrnoException) => {
    throw new WardenError("E_CONFIG", `--checkpoints: cannot read ${file} (${err.code ?? "error"})`);
  });
  const checkpoints: Checkpoint[] = [];
  let lineNo = 0;
  for await (const line of readLines(file)) {
    lineNo++;
    if (line.text.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.text);
    } catch {
      parsed = null;
    }
    const result = CheckpointSchema.safeParse(parsed);
    if (!result.success) return { checkpoints, error: { seq: null, reason: `${file} line ${lineNo} is not a checkpoint {seq, hash, ts, serverId, sig}` } };
    const c = result.data;
    if (!checkpointSignatureValid(c, publicKey)) {
      return { checkpoints, error: { seq: c.seq, reason: `checkpoint for seq ${c.seq} (${file} line ${lineNo}) has an invalid signature: edited, forged or signed with another key` } };
    }
    const previous = checkpoints.at(-1);
    if (previous && c.seq <= previous.seq) {
      return { checkpoints, error: { seq: c.seq, reason: `checkpoint for seq ${c.seq} (${file} line ${lineNo}) comes after one for seq ${previous.seq}: checkpoints reordered or replayed` } };
    }
    checkpoints.push(c);
  }
  if (checkpoints.length === 0) return { checkpoints, error: { seq: null, reason: `${file} holds no checkpoint` } };
  return { checkpoints, error: null };
}

export function formatCheckpointReport(report: CheckpointVerifyReport): string {
  if (!report.ok) {
    return report.firstBadSeq !== null ? `BROKEN at seq ${report.firstBadSeq}: ${report.reason ?? "unknown"}` : `BROKEN: ${report.reason ?? "unknown"}`;
  }
  const skipped = report.beforeChain > 0 ? ` (${report.beforeChain} older than the oldest remaining record: pruned, signature checked only)` : "";
  return `ok: ${report.chain.records} records and ${report.checkpoints} checkpoints verified${skipped}; the chain reaches seq ${report.chain.lastSeq ?? 0}`;
}
