import { createHash } from "node:crypto";
import { canonicalJson, canonicalMembers, type CanonicalOptions } from "./canonical-json.js";
import type { AuditEntry, AuditRecord } from "./types.js";

/** prev of the very first record: there is nothing before it. */
export const GENESIS_HASH = "0".repeat(64);

const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** hash = sha256(prev + canonicalJson(record without hash)), hex (SPEC §10). */
export function recordHash(prev: string, recordWithoutHash: object, options: CanonicalOptions = {}): string {
  return createHash("sha256").update(prev).update(canonicalJson(recordWithoutHash, options)).digest("hex");
}

/**
 * Places an entry in the chain and gives the line to write (canonical JSON of
 * the whole record). seq/prev/hash keys in the entry are dropped first: a
 * caller must not be able to pick its own place in the chain.
 */
export function sealRecord(entry: AuditEntry, seq: number, prev: string, options: CanonicalOptions = {}): { record: AuditRecord; line: string } {
  const { seq: _seq, prev: _prev, hash: _hash, ...fields } = entry;
  const body = { ...fields, seq, prev } as Omit<AuditRecord, "hash">;
  const members = canonicalMembers(body, options);
  const hash = createHash("sha256").update(prev).update(`{${members.map(([, m]) => m).join(",")}}`).digest("hex");
  const at = members.findIndex(([key]) => key > "hash"); // where canonical key order puts "hash"
  members.splice(at === -1 ? members.length : at, 0, ["hash", `"hash":"${hash}"`]);
  return { record: { ...body, hash } as AuditRecord, line: `{${members.map(([, m]) => m).join(",")}}` };
}

/** A parsed line that at least has the chain fields; says nothing yet about whether they are right. */
export function parseRecordLine(text: string): AuditRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const r = value as Partial<AuditRecord>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return null;
  if (typeof r.prev !== "string" || !HASH_PATTERN.test(r.prev)) return null;
  if (typeof r.hash !== "string" || !HASH_PATTERN.test(r.hash)) return null;
  return value as AuditRecord;
}

/**
 * Fast path first: a line we wrote is canonical, so the hashed text is the
 * line minus its `,"hash":"…"` field, and re-serializing is not needed (it
 * doubles verify and reopen speed). Sound: accepting needs that cut text to
 * hash to the record's hash, i.e. to be exactly what the writer hashed. Any
 * line that fails it (reformatted by a tool, or tampered) gets the full
 * canonical re-computation, so the result is the one SPEC §10 defines.
 */
function hashMatches(text: string, record: AuditRecord): boolean {
  const field = `,"hash":"${record.hash}"`;
  const at = text.indexOf(field);
  if (at !== -1) {
    const hashedText = text.slice(0, at) + text.slice(at + field.length);
    if (createHash("sha256").update(record.prev).update(hashedText).digest("hex") === record.hash) return true;
  }
  const { hash, ...body } = record;
  if (recordHash(record.prev, body) === hash) return true;
  // Lines written before U+2028/U+2029 were escaped were hashed with them raw (src/audit/README.md).
  return recordHash(record.prev, body, { rawLineSeparators: true }) === hash;
}

export type LinkResult = { ok: true; record: AuditRecord } | { ok: false; seq: number | null; reason: string };

/**
 * Walks the chain one line at a time. Starting "unanchored" (no expected seq)
 * means the older files were pruned: the first record's prev is trusted unless
 * it claims to be seq 1, which must start from the genesis hash.
 */
export class ChainCursor {
  constructor(
    private expectedSeq: number | null = null,
    private expectedPrev: string | null = null,
  ) {}

  get nextSeq(): number | null {
    return this.expectedSeq;
  }

  get lastHash(): string | null {
    return this.expectedPrev;
  }

  check(text: string): LinkResult {
    return this.checkParsed(text, parseRecordLine(text));
  }

  /** As check, for a line the caller already parsed (a 1 MB record is not parsed twice). */
  checkParsed(text: string, record: AuditRecord | null): LinkResult {
    if (!record) return this.broken("line is not an audit record (unparseable or missing seq/prev/hash)");
    // Any edit of any field (including seq and prev) changes this hash.
    if (!hashMatches(text, record)) return this.broken("hash mismatch (record changed)", record.seq);
    if (this.expectedSeq === null) {
      if (record.seq === 1 && record.prev !== GENESIS_HASH) {
        return this.broken("the first record does not start from the genesis hash");
      }
    } else if (record.seq !== this.expectedSeq) {
      // A gap, a repeat or a step back: a record was removed, inserted or moved.
      return this.broken(`seq ${record.seq} found where ${this.expectedSeq} was expected (record removed, reordered or inserted)`);
    } else if (record.prev !== this.expectedPrev) {
      // Right seq but not linked to its predecessor: a forged or substituted record.
      return this.broken(`prev does not match the hash of seq ${this.expectedSeq - 1} (record removed, reordered or inserted)`);
    }
    this.expectedSeq = record.seq + 1;
    this.expectedPrev = record.hash;
    return { ok: true, record };
  }

  private broken(reason: string, seqInLine?: number): LinkResult {
    return { ok: false, seq: this.expectedSeq ?? seqInLine ?? null, reason };
  }
}
