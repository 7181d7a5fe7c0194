import { WardenError } from "../errors.js";
import { toolPathOf } from "./records.js";

export const DEFAULT_JOURNAL_MAX_BYTES = 256 * 1024 * 1024;
/**
 * Default share of one tool: a quarter of the bound. Without a share, one
 * tool's repeated writes filled the journal and every other tool's writes
 * were refused (a denial of service through the shared bound); now the
 * greedy tool is refused at its share and the others keep working.
 */
export const DEFAULT_TOOL_SHARE = 1 / 4;

export interface BudgetUse {
  op: string;
  volume: string;
  rel: string;
  tool: string;
}

/**
 * The bound over the whole journal (blobs and index lines), and each tool's
 * share of it. Checked before a byte of the pre-image is stored, so a refused
 * change is refused before it happens: a tool cannot fill the operator's disk
 * through the journal, nor starve other tools of it.
 */
export class JournalBudget {
  constructor(
    readonly maxBytes: number,
    readonly maxBytesPerTool: number,
    public used: number,
    readonly usedBy: Map<string, number> = new Map(),
  ) {}

  take(bytes: number, what: BudgetUse): void {
    const mine = this.usedBy.get(what.tool) ?? 0;
    if (this.used + bytes > this.maxBytes) {
      throw new WardenError(
        "E_CAPABILITY_DENIED",
        `filesystem: ${what.op} of ${toolPathOf(what.volume, what.rel)} refused: the rollback journal is full (${this.used} of ${this.maxBytes} bytes used, this change needs more); the operator can raise journal.maxBytes or lower journal.retainDays in warden.config.json`,
      );
    }
    if (mine + bytes > this.maxBytesPerTool) {
      throw new WardenError(
        "E_CAPABILITY_DENIED",
        `filesystem: ${what.op} of ${toolPathOf(what.volume, what.rel)} refused: ${what.tool}'s share of the rollback journal is full (${mine} of ${this.maxBytesPerTool} bytes used by its calls, this change needs more); other tools keep their share; the operator can raise journal.maxBytes or lower journal.retainDays in warden.config.json`,
      );
    }
    this.add(bytes, what.tool);
  }

  /** Bytes already written (index lines): counted, never refused. */
  add(bytes: number, tool: string): void {
    this.used += bytes;
    this.usedBy.set(tool, (this.usedBy.get(tool) ?? 0) + bytes);
  }

  give(bytes: number, tool: string): void {
    this.used = Math.max(0, this.used - bytes);
    this.usedBy.set(tool, Math.max(0, (this.usedBy.get(tool) ?? 0) - bytes));
  }
}
