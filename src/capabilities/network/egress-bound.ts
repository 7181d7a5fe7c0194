/**
 * A bound on the egress records of one call, shared by ctx.fetch (isolate
 * tools) and the container egress proxy. Without it a tool looping
 * `CONNECT <8000 × "a">-<n>.evil.test:443` grew its call's audit record to
 * hundreds of MB until serialising it threw, and from then on every call of
 * every tool failed with E_AUDIT (issue 17, item 1).
 */
import type { EgressRecord } from "../types.js";

/** Records kept per call; the rest are counted in one summary record. */
export const EGRESS_RECORDS_MAX = 256;
/** A host longer than any DNS name (253) is cut: the audit line must stay small. */
export const EGRESS_HOST_MAX = 255;
/** `denied` reasons and methods are short texts; a tool controls parts of both. */
const DENIED_MAX = 300;
const METHOD_MAX = 16;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The record with every tool-controlled text cut to its bound. */
export function boundedEgressRecord(record: EgressRecord): EgressRecord {
  const out: EgressRecord = { ...record, host: cut(String(record.host), EGRESS_HOST_MAX), method: cut(String(record.method), METHOD_MAX) };
  if (record.denied !== undefined) out.denied = cut(String(record.denied), DENIED_MAX);
  return out;
}

/**
 * Admits the first `max` records of a call (cut to size); beyond, returns ONE
 * summary record the first time (push it like any other) and updates that same
 * object in place afterwards, so a sink that only appends never grows again.
 */
export class EgressRecordBound {
  private kept = 0;
  private refused = 0;
  private allowed = 0;
  private summaryRecord: EgressRecord | undefined;

  constructor(private readonly max = EGRESS_RECORDS_MAX) {}

  admit(record: EgressRecord): EgressRecord | undefined {
    if (this.kept < this.max) {
      this.kept += 1;
      return boundedEgressRecord(record);
    }
    if (record.denied !== undefined || record.status === null) this.refused += 1;
    else this.allowed += 1;
    const first = this.summaryRecord === undefined;
    this.summaryRecord ??= { host: "(more)", port: 0, method: "-", status: null, bytes: 0 };
    this.updateSummary(record);
    return first ? this.summaryRecord : undefined;
  }

  /** The number of records not kept. */
  get dropped(): number {
    return this.refused + this.allowed;
  }

  private updateSummary(record: EgressRecord): void {
    const s = this.summaryRecord!;
    s.bytes += Number.isFinite(record.bytes) ? record.bytes : 0;
    if (record.bytesSent !== undefined) s.bytesSent = (s.bytesSent ?? 0) + record.bytesSent;
    // The host field says how many are missing; `denied` (which the broker reads as "a refusal happened")
    // only when some of them were refused.
    s.host = `(${this.dropped} more egress attempts not recorded: at most ${this.max} records per call)`;
    if (this.refused > 0) s.denied = `${this.refused} more refused`;
  }
}
