/** What the broker hands in for one call attempt: everything but the chain fields (seq, prev, hash). */
export interface AuditEntry {
  ts: string;
  callId: string;
  actor: string;
  tool: string;
  version: string | null;
  digest: string | null;
  effect: string | null;
  input: unknown;
  outcome: "ok" | "error";
  errorCode: string | null;
  durationMs: number;
  outputSha256: string | null;
  outputBytes: number;
  egress: Array<{ host: string; port: number; method: string; status: number | null; bytes: number; denied?: string }>;
  files: Array<{ volume: string; path: string; op: string; denied?: string }>;
  confirmedBy: string | null;
  /** Later issues add fields (e.g. `redactedOutput: true`); they are hashed like the rest. */
  [extra: string]: unknown;
}

/** One line of the audit file: the entry plus its place in the hash chain. */
export interface AuditRecord extends AuditEntry {
  seq: number;
  prev: string;
  hash: string;
}

/** The newest record that is durably on disk: what a checkpoint signs. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export interface AuditLog {
  /** Resolves only after the record is durably on disk (fdatasync). Rejects with WardenError("E_AUDIT") when it cannot write. */
  append(entry: AuditEntry): Promise<AuditRecord>;
  /** Waits for appends already handed in, then closes the file. Later appends reject with E_AUDIT. */
  close(): Promise<void>;
  /** Hash of the last record handed to append (it may still be in flight). */
  readonly lastHash: string;
  /** seq the next append will get. */
  readonly nextSeq: number;
  /** The newest durable record (null for an empty chain). */
  readonly durableHead?: ChainHead | null;
  /** Subscribes to commits (newest durable record after each); returns the unsubscribe. */
  onCommitted?(listener: (head: ChainHead) => void): () => void;
}

export interface AuditLogOptions {
  logger?: import("../logger.js").Logger;
  /** Rotate the current file before it would grow past this many bytes (SPEC §14). */
  maxBytes?: number;
  /** Delete rotated files whose newest record is older than this many days, at open and at rotation (SPEC §14). */
  retainDays?: number;
  /** Bound of one audit line; a larger record is written truncated, still chained (default 4 MiB). */
  maxRecordBytes?: number;
  /** How often the holder seals entries other processes spooled (spool.ts). Default 500 ms; 0 = only at open. */
  spoolIntervalMs?: number;
}

export interface VerifyReport {
  ok: boolean;
  /** Records whose hash and link were checked (before the break, if any). */
  records: number;
  /** Files read, oldest first (rotated files, then the current file). */
  files: string[];
  firstBrokenSeq: number | null;
  reason: string | null;
  /** The current file ends in an unterminated line: a crash during a write, not tampering. */
  tornTail: boolean;
  /** seq of the first record checked; > 1 when older files were pruned (its prev is then trusted, not checked). */
  firstSeq?: number | null;
  /** seq of the last record that verified. */
  lastSeq?: number | null;
  /** Pruning records found in the chain: what was deleted and when. */
  pruned?: PruneNote[];
}

export interface PruneNote {
  /** seq of the pruning record itself. */
  seq: number;
  ts: string;
  files: string[];
  throughSeq: number;
}
