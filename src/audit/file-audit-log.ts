import { rename, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { WardenError } from "../errors.js";
import type { Logger } from "../logger.js";
import { openAuditAppend, syncDirectory, writeDurably } from "./audit-file.js";
import { GroupCommitQueue } from "./group-commit.js";
import { DEFAULT_MAX_RECORD_BYTES, sealBounded } from "./record-bound.js";
import { firstSeqOf, type ChainTail } from "./recover-chain.js";
import { prunedEntry, pruneRotatedFiles, rotatedFileName } from "./rotation.js";
import type { AuditEntry, AuditLog, AuditLogOptions, AuditRecord, ChainHead } from "./types.js";

interface PendingLine {
  seq: number;
  hash: string;
  bytes: Buffer;
}

/** An open audit file: seals entries into the chain in call order and group-commits them. */
export class FileAuditLog implements AuditLog {
  #handle: FileHandle;
  #nextSeq: number;
  #lastHash: string;
  #fileBytes: number;
  /** null: no record in the current file yet, or (with #fileFirstSeqUnread) one not read at open. */
  #fileFirstSeq: number | null = null;
  #fileFirstSeqUnread: boolean;
  #fileLastSeq: number | null;
  #closed = false;
  #durable: ChainHead | null = null;
  readonly #committedListeners = new Set<(head: ChainHead) => void>();
  readonly #queue: GroupCommitQueue<PendingLine>;

  constructor(
    private readonly file: string,
    handle: FileHandle,
    tail: ChainTail,
    private readonly options: AuditLogOptions,
    private readonly logger: Logger,
    private readonly onClosed: () => void,
  ) {
    this.#handle = handle;
    this.#nextSeq = tail.nextSeq;
    this.#lastHash = tail.lastHash;
    this.#fileBytes = tail.fileBytes;
    this.#fileFirstSeqUnread = tail.fileHasRecords;
    this.#fileLastSeq = tail.fileHasRecords ? tail.nextSeq - 1 : null;
    if (tail.nextSeq > 1) this.#durable = { seq: tail.nextSeq - 1, hash: tail.lastHash };
    this.#queue = new GroupCommitQueue((lines) => this.#commit(lines), (err) => this.#failed(err));
  }

  get lastHash(): string {
    return this.#lastHash;
  }

  get nextSeq(): number {
    return this.#nextSeq;
  }

  get durableHead(): ChainHead | null {
    return this.#durable;
  }

  /** Called after each commit with the newest durable record (checkpoints sign only what is on disk). */
  onCommitted(listener: (head: ChainHead) => void): () => void {
    this.#committedListeners.add(listener);
    return () => this.#committedListeners.delete(listener);
  }

  append(entry: AuditEntry): Promise<AuditRecord> {
    if (this.#closed) return Promise.reject(new WardenError("E_AUDIT", "the audit log is closed"));
    if (this.#queue.failure) return Promise.reject(this.#queue.failure);
    let record: AuditRecord;
    let bytes: Buffer;
    try {
      // Serialized now, synchronously: a caller mutating `input` afterwards cannot change what is logged.
      const sealed = sealBounded(entry, this.#nextSeq, this.#lastHash, this.options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);
      record = sealed.record;
      bytes = Buffer.from(`${sealed.line}\n`, "utf8");
      if (sealed.truncated) {
        this.logger.warn(
          { event: "audit.record_truncated", seq: record.seq, callId: record.callId, tool: record.tool, fields: Object.keys(sealed.truncated.fields), original: sealed.truncated.original },
          `audit: the record of call ${String(record.callId)} exceeded ${sealed.truncated.maxRecordBytes} bytes; written truncated (sizes and sha256 of the cut fields are in the record)`,
        );
      }
    } catch (err) {
      // A malformed entry (cycle, BigInt) is the caller's bug; the chain is untouched and stays usable.
      return Promise.reject(err instanceof WardenError ? err : new WardenError("E_AUDIT", String(err)));
    }
    this.#nextSeq = record.seq + 1;
    this.#lastHash = record.hash;
    return this.#queue.enqueue({ seq: record.seq, hash: record.hash, bytes }).then(() => record);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#queue.whenIdle();
      await this.#handle.close();
    } finally {
      this.onClosed();
    }
  }

  /** One batch: rotate where the next line would overflow maxBytes, write, fdatasync. */
  async #commit(lines: PendingLine[]): Promise<void> {
    const maxBytes = this.options.maxBytes;
    let segment: Buffer[] = [];
    let segmentBytes = 0;
    let rotated = false;
    for (const line of lines) {
      const bytesBefore = this.#fileBytes + segmentBytes;
      if (maxBytes !== undefined && bytesBefore > 0 && bytesBefore + line.bytes.length > maxBytes) {
        await this.#writeSegment(segment, segmentBytes);
        segment = [];
        segmentBytes = 0;
        await this.#rotate();
        rotated = true;
      }
      segment.push(line.bytes);
      segmentBytes += line.bytes.length;
      if (!this.#fileFirstSeqUnread) this.#fileFirstSeq ??= line.seq;
      this.#fileLastSeq = line.seq;
    }
    await this.#writeSegment(segment, segmentBytes);
    const last = lines.at(-1);
    if (last) this.#committed({ seq: last.seq, hash: last.hash });
    if (rotated && this.options.retainDays !== undefined) await this.#prune(this.options.retainDays);
  }

  #committed(head: ChainHead): void {
    this.#durable = head;
    for (const listener of this.#committedListeners) {
      try {
        listener(head);
      } catch (err) {
        this.logger.error({ event: "audit.listener_failed", err: (err as Error).message }, "audit: a commit listener threw");
      }
    }
  }

  async #writeSegment(segment: Buffer[], bytes: number): Promise<void> {
    if (segment.length === 0) return;
    await writeDurably(this.#handle, Buffer.concat(segment, bytes));
    this.#fileBytes += bytes;
  }

  /** The full file gets its seq range as a name; the new file's first record links to its last hash. */
  async #rotate(): Promise<void> {
    // Opening read only the tail: the first seq of what was there is read now, once per rotation.
    if (this.#fileFirstSeqUnread) this.#fileFirstSeq = (await firstSeqOf(this.file)) ?? this.#fileLastSeq;
    this.#fileFirstSeqUnread = false;
    await this.#handle.close();
    await rename(this.file, rotatedFileName(this.file, this.#fileFirstSeq ?? 0, this.#fileLastSeq ?? 0));
    this.#handle = await openAuditAppend(this.file);
    await syncDirectory(dirname(this.file));
    this.#fileBytes = 0;
    this.#fileFirstSeq = null;
    this.#fileLastSeq = null;
  }

  async #prune(retainDays: number): Promise<void> {
    try {
      const pruned = await pruneRotatedFiles(this.file, retainDays, this.logger);
      // Queued behind this commit (awaiting it here would wait on ourselves): the pruning is itself in the chain.
      if (pruned.length > 0) {
        this.append(prunedEntry(pruned, retainDays)).catch((err: unknown) => {
          this.logger.error({ event: "audit.prune_record_failed", err: (err as Error).message }, "audit: could not record the pruning in the chain");
        });
      }
    } catch (err) {
      // Keeping an old file too long is a retention problem, not a lost record: appends go on.
      this.logger.error({ event: "audit.prune_failed", err: (err as Error).message }, "audit: pruning old rotated files failed");
    }
  }

  #failed(err: unknown): WardenError {
    const cause = (err as Error).message ?? String(err);
    this.logger.error(
      { event: "audit.write_failed", file: this.file, err: cause },
      "audit: cannot write the audit log; every further call is refused until the server is restarted",
    );
    return new WardenError("E_AUDIT", `the audit log cannot be written (${cause}); calls are refused rather than run unaudited`);
  }
}
