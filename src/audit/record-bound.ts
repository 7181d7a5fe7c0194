import { canonicalDigest, type CanonicalDigest } from "./canonical-digest.js";
import { RecordTooLargeError } from "./canonical-json.js";
import { sealRecord } from "./chain.js";
import type { AuditEntry, AuditRecord } from "./types.js";

/** Default bound of one audit line (SPEC §10 via issue 17); `audit.maxRecordBytes` overrides it. */
export const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;
/** Smallest allowed bound: room for the chain fields, the truncation note and a useful prefix. */
export const MIN_MAX_RECORD_BYTES = 16 * 1024;
/** At most this much of an oversized value is hashed to describe it; past it only a lower bound is kept. */
const DIGEST_BUDGET_BYTES = 32 * 1024 * 1024;
/** Kept free for seq/prev/hash and the `truncated` description. */
const RESERVE_BYTES = 8 * 1024;

/** What a truncated record says about what it replaced. */
export interface TruncationNote {
  maxRecordBytes: number;
  original: CanonicalDigest;
  fields: Record<string, CanonicalDigest & { items?: number; keptItems?: number }>;
}

/**
 * Seals an entry into the chain, bounded to `maxBytes` per line. One call's
 * record can grow without bound (36,077 egress records → 293 MB in 10 s,
 * issue 17); serializing it threw `RangeError: Invalid string length` and left
 * every later append failing. An oversized entry is replaced by a truncated,
 * still-chained record: the largest fields are cut (arrays keep a prefix,
 * other values become null) and `truncated` names each cut field with its
 * original size and sha256 where that was computable within the budget.
 */
export function sealBounded(entry: AuditEntry, seq: number, prev: string, maxBytes: number): { record: AuditRecord; line: string; truncated: TruncationNote | null } {
  try {
    // maxChars counts UTF-16 units of leaf text, never more than the UTF-8 bytes: a sound early stop.
    const sealed = sealRecord(entry, seq, prev, { maxChars: maxBytes });
    if (Buffer.byteLength(sealed.line, "utf8") < maxBytes) return { ...sealed, truncated: null };
  } catch (err) {
    if (!(err instanceof RecordTooLargeError || err instanceof RangeError)) throw err;
  }
  const bounded = truncateEntry(entry, maxBytes);
  try {
    const sealed = sealRecord(bounded, seq, prev, { maxChars: maxBytes });
    if (Buffer.byteLength(sealed.line, "utf8") < maxBytes) return { ...sealed, truncated: bounded.truncated as TruncationNote };
  } catch (err) {
    if (!(err instanceof RecordTooLargeError || err instanceof RangeError)) throw err;
  }
  // Many mid-sized fields can still add up: keep only who/what/when, so the call is never unrecorded.
  const minimal = minimalEntry(entry, bounded.truncated as TruncationNote);
  return { ...sealRecord(minimal, seq, prev), truncated: minimal.truncated as TruncationNote };
}

function truncateEntry(entry: AuditEntry, maxBytes: number): AuditEntry {
  const { seq: _s, prev: _p, hash: _h, truncated: _t, ...fields } = entry;
  const sizes = Object.entries(fields).map(([key, value]) => ({ key, value, bytes: measure(value, maxBytes) }));
  sizes.sort((a, b) => b.bytes - a.bytes);
  let total = sizes.reduce((sum, f) => sum + f.bytes + f.key.length + 4, 0);
  const room = maxBytes - RESERVE_BYTES;
  const cut: typeof sizes = [];
  for (const field of sizes) {
    if (total <= room) break;
    cut.push(field);
    total -= field.bytes;
  }
  const note: TruncationNote = { maxRecordBytes: maxBytes, original: safeDigest(fields), fields: {} };
  const out: Record<string, unknown> = { ...fields };
  const share = Math.max(0, Math.floor((room - total) / Math.max(1, cut.length)) - 64);
  for (const { key, value } of cut) {
    note.fields[key] = safeDigest(value);
    if (Array.isArray(value)) {
      const kept = prefixWithin(value, share);
      out[key] = kept;
      note.fields[key] = { ...note.fields[key], items: value.length, keptItems: kept.length };
    } else {
      out[key] = null;
    }
  }
  return { ...(out as AuditEntry), truncated: note };
}

function minimalEntry(entry: AuditEntry, note: TruncationNote): AuditEntry {
  const short = (v: unknown) => (typeof v === "string" ? v.slice(0, 256) : null);
  return {
    ts: short(entry.ts) ?? new Date().toISOString(),
    callId: short(entry.callId) ?? "",
    actor: short(entry.actor) ?? "",
    tool: short(entry.tool) ?? "",
    version: short(entry.version),
    digest: short(entry.digest),
    effect: short(entry.effect),
    input: null,
    outcome: entry.outcome === "ok" ? "ok" : "error",
    errorCode: short(entry.errorCode),
    durationMs: typeof entry.durationMs === "number" ? entry.durationMs : 0,
    outputSha256: short(entry.outputSha256),
    outputBytes: typeof entry.outputBytes === "number" ? entry.outputBytes : 0,
    egress: [],
    files: [],
    confirmedBy: short(entry.confirmedBy),
    truncated: { ...note, fields: Object.fromEntries(Object.entries(note.fields).slice(0, 64)), minimal: true },
  };
}

/** Canonical size of a value, measured no further than `limit` (a value past it counts as limit + 1). */
function measure(value: unknown, limit: number): number {
  const digest = safeDigest(value, limit);
  return "bytes" in digest ? digest.bytes : limit + 1;
}

function safeDigest(value: unknown, budget = DIGEST_BUDGET_BYTES): CanonicalDigest {
  try {
    return canonicalDigest(value, budget);
  } catch {
    return { atLeastBytes: 0 }; // a cycle or BigInt: not measurable, and sealRecord reports it
  }
}

/** The longest prefix of `items` whose canonical text fits in `bytes`. */
function prefixWithin(items: unknown[], bytes: number): unknown[] {
  let used = 2;
  let count = 0;
  for (const item of items) {
    const size = measure(item, bytes - used);
    if (used + size + 1 > bytes) break;
    used += size + 1;
    count++;
  }
  return items.slice(0, count);
}
