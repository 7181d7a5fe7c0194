/**
 * Reads Docker's multiplexed attach stream (8-byte frame header: stream id,
 * 3 zero bytes, big-endian payload length) and keeps the container's stdout
 * for the result and its stderr as log lines — both bounded, because the
 * tool controls how much it writes.
 */
import { StringDecoder } from "node:string_decoder";
import { GATE_EXITED_LINE } from "./gate.js";
import { StdoutScanner } from "./stdout-scanner.js";
import { classifyStdoutObject, NOT_ONE_OBJECT, type ToolResult } from "./tool-result.js";

const STDOUT = 1;
const STDERR = 2;
/** A log line longer than this is cut: stderr is for humans, not bulk data. */
export const STDERR_LINE_MAX = 2000;
/** Lines relayed per call; the rest are dropped (with one notice) so a chatty tool cannot flood the client. */
export const STDERR_LINES_MAX = 200;
/** Progress objects relayed per call; the rest are ignored (they would only flood the client). */
export const PROGRESS_MAX = 500;

export class StdioCollector {
  private header = Buffer.alloc(0);
  private frameType = 0;
  private frameLeft = 0;
  private readonly scanner = new StdoutScanner((bytes) => this.object(bytes));
  private stdoutLength = 0;
  private found: ToolResult | undefined;
  private progressCount = 0;
  private readonly stderrDecoder = new StringDecoder("utf8");
  private stderrPartial = "";
  private stderrLines = 0;
  private pendingLines: string[] = [];
  private lineSink: ((line: string) => void) | undefined;
  private overflowed = false;
  private lastLine = "";

  /** stdout bytes beyond which the container is killed; `onOverflow` fires once. */
  stdoutLimit = Number.POSITIVE_INFINITY;
  onOverflow: (() => void) | undefined;
  /** The first result object (output, error, or an invalid object) has arrived; fires once. */
  onResult: ((result: ToolResult) => void) | undefined;
  /** The gate's line after the tool exited arrived: every stderr line of the tool is in (fires once). */
  onToolExited: (() => void) | undefined;
  private exitedSeen = false;

  get toolExited(): boolean {
    return this.exitedSeen;
  }

  /** A `{"progress": n, "total": m}` object arrived before the result. */
  onProgress: ((done: number, total: number | undefined) => void) | undefined;

  get stdoutBytes(): number {
    return this.stdoutLength;
  }

  /** The last non-empty stderr line: for a crashing script, usually the exception ("ValueError: …"). */
  get lastStderrLine(): string {
    return this.lastLine;
  }

  /** What stdout holds so far: the first result object, or none / invalid. */
  result(): ToolResult {
    if (this.found) return this.found;
    if (this.overflowed || this.scanner.sawStray || this.scanner.unfinished) return { kind: "invalid", reason: NOT_ONE_OBJECT };
    return { kind: "none" };
  }

  /** Routes stderr lines to the call's log; lines written before the call (pooled container) are flushed first. */
  setLineSink(sink: (line: string) => void): void {
    this.lineSink = sink;
    for (const line of this.pendingLines) sink(line);
    this.pendingLines = [];
  }

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.frameLeft === 0) {
        const need = 8 - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + need)]);
        offset += Math.min(need, chunk.length - offset);
        if (this.header.length < 8) return;
        this.frameType = this.header[0]!;
        this.frameLeft = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(this.frameLeft, chunk.length - offset);
      this.payload(chunk.subarray(offset, offset + take));
      this.frameLeft -= take;
      offset += take;
    }
  }

  /** Flushes a last stderr line without a newline. */
  end(): void {
    const rest = this.stderrPartial + this.stderrDecoder.end();
    this.stderrPartial = "";
    if (rest.length > 0) this.emitLine(rest);
  }

  private payload(bytes: Buffer): void {
    if (this.frameType === STDOUT) this.stdout(bytes);
    else if (this.frameType === STDERR) this.stderr(bytes);
  }

  private stdout(bytes: Buffer): void {
    if (this.overflowed) return;
    this.stdoutLength += bytes.length;
    if (this.stdoutLength > this.stdoutLimit) {
      // Stop buffering at once: the flood must not grow our heap while the kill is in flight.
      this.overflowed = true;
      this.onOverflow?.();
      return;
    }
    // After the result nothing on stdout counts: no more scanning (and no more memory).
    if (!this.found) this.scanner.push(bytes);
  }

  private object(bytes: Buffer): void {
    if (this.found) return;
    const value = classifyStdoutObject(bytes.toString("utf8"));
    if (value.kind === "progress") {
      if (this.progressCount >= PROGRESS_MAX) return;
      this.progressCount += 1;
      this.onProgress?.(value.done, value.total);
      return;
    }
    this.found = value;
    this.onResult?.(value);
  }

  private stderr(bytes: Buffer): void {
    const text = this.stderrPartial + this.stderrDecoder.write(bytes);
    const lines = text.split("\n");
    this.stderrPartial = lines.pop() ?? "";
    if (this.stderrPartial.length > STDERR_LINE_MAX) {
      this.emitLine(this.stderrPartial);
      this.stderrPartial = "";
    }
    for (const line of lines) this.emitLine(line);
  }

  private emitLine(raw: string): void {
    if (this.exitedSeen) return;
    // The gate's line (gate.ts) ends the tool's stderr; what a partial line held before it is still a line.
    if (raw.endsWith(GATE_EXITED_LINE)) {
      const before = raw.slice(0, -GATE_EXITED_LINE.length);
      if (before.length > 0) this.emitLine(before);
      this.exitedSeen = true;
      this.onToolExited?.();
      return;
    }
    if (raw.trim().length > 0) this.lastLine = raw.trim().slice(0, 500);
    if (this.stderrLines > STDERR_LINES_MAX) return;
    this.stderrLines += 1;
    const line =
      this.stderrLines > STDERR_LINES_MAX
        ? `[warden: more than ${STDERR_LINES_MAX} stderr lines; the rest is dropped]`
        : raw.length > STDERR_LINE_MAX
          ? `${raw.slice(0, STDERR_LINE_MAX)}… [cut]`
          : raw.replace(/\r$/, "");
    if (this.lineSink) this.lineSink(line);
    else if (this.pendingLines.length < STDERR_LINES_MAX) this.pendingLines.push(line);
  }
}
