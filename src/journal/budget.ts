import { WardenError } from "../errors.js";
import { toolPathOf } from "./records.js";

export const DEFAULT_JOURNAL_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The bound over the whole journal (blobs and index lines). Checked before a
 * byte of the pre-image is stored, so a refused change is refused before it
 * happens: a tool cannot fill the operator's disk through the journal.
 */
export class JournalBudget {
  constructor(
    readonly maxBytes: number,
    public used: number,
  ) {}

  take(bytes: number, what: { op: string; volume: string; rel: string }): void {
    if (this.used + bytes > this.maxBytes) {
      throw new WardenError(
        "E_CAPABILITY_DENIED",
        `filesystem: ${what.op} of ${toolPathOf(what.volume, what.rel)} refused: the rollback journal is full (${this.used} of ${this.maxBytes} bytes used, this change needs more); the operator can raise journal.maxBytes or lower journal.retainDays in warden.config.json`,
      );
    }
    this.used += bytes;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}
