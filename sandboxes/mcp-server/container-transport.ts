/**
 * An MCP transport over a container's attached stdio (SPEC §15): warden is the
 * client, the hosted server reads JSON-RPC lines on stdin and writes them on
 * stdout; stderr lines are the server's logs.
 *
 * Bounds (the server is untrusted): a stdout line longer than `maxLineBytes`
 * (a flood, or a result far beyond the tool's output budget) ends the
 * transport with `LineTooLongError` — the caller kills the container; lines
 * are split in linear time (each chunk is searched once, never the whole
 * buffer again); stderr lines are cut to `maxLogLine` characters.
 */
import type { Duplex } from "node:stream";
import { PassThrough } from "node:stream";
import type Dockerode from "dockerode";
import { deserializeMessage, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

export class LineTooLongError extends Error {
  constructor(readonly limit: number) {
    super(`the server wrote a stdout line longer than ${limit} bytes`);
  }
}

export interface ContainerTransportOptions {
  stdio: Duplex;
  modem: Dockerode["modem"];
  maxLineBytes: number;
  onStderrLine(line: string): void;
  /** Every message warden sends (the caller learns the ids of its requests). */
  onSend?(message: JSONRPCMessage): void;
  /** The id of every response the server sends, answered late ones included. */
  onResponse?(id: string | number): void;
  /** A stdout line that is not JSON-RPC: counted and logged by the caller, never forwarded. */
  onJunk?(what: string): void;
  maxLogLine?: number;
}

export class ContainerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly stdout = new PassThrough();
  private readonly stderr = new PassThrough();
  private closed = false;

  constructor(private readonly options: ContainerTransportOptions) {}

  async start(): Promise<void> {
    const { stdio, modem } = this.options;
    modem.demuxStream(stdio, this.stdout, this.stderr);
    splitLines(this.stdout, this.options.maxLineBytes, (line) => this.onLine(line), (err) => this.fail(err));
    const maxLog = this.options.maxLogLine ?? 8192;
    // stderr is only logs: a line past maxLog is cut, and never buffered beyond it.
    splitLines(this.stderr, maxLog, (line) => this.options.onStderrLine(line.toString("utf8")), () => {}, true);
    const end = (): void => void this.close();
    stdio.once("end", end);
    stdio.once("close", end);
    stdio.once("error", end);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) throw new Error("the hosted server's stdio is closed");
    const { stdio } = this.options;
    this.options.onSend?.(message);
    await new Promise<void>((resolve, reject) => stdio.write(serializeMessage(message), (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.stdio.destroy();
    this.onclose?.();
  }

  private onLine(line: Buffer): void {
    if (this.closed) return;
    const text = line.toString("utf8").replace(/\r$/, "");
    if (text.trim().length === 0) return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(text);
    } catch {
      this.options.onJunk?.(text.slice(0, 200));
      return;
    }
    const m = message as { id?: string | number; method?: string };
    if (m.method === undefined && m.id !== undefined) this.options.onResponse?.(m.id);
    this.onmessage?.(message);
  }

  private fail(err: Error): void {
    this.onerror?.(err);
    void this.close();
  }
}

/**
 * Calls `onLine` for every "\n"-terminated line. Only the newest chunk is
 * searched for a newline, so a long line costs O(n), not O(n²). Past `max`
 * bytes without a newline: `truncate` cuts the line (logs), else `onOverflow`.
 */
function splitLines(stream: PassThrough, max: number, onLine: (line: Buffer) => void, onOverflow: (err: Error) => void, truncate = false): void {
  let parts: Buffer[] = [];
  let size = 0;
  let dropping = false;
  stream.on("data", (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, nl === -1 ? chunk.length : nl);
      if (!dropping) {
        const room = max - size;
        if (piece.length > room) {
          if (!truncate) {
            stream.removeAllListeners("data");
            onOverflow(new LineTooLongError(max));
            return;
          }
          parts.push(piece.subarray(0, room));
          size = max;
          dropping = true;
        } else {
          parts.push(piece);
          size += piece.length;
        }
      }
      if (nl === -1) return;
      onLine(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
      parts = [];
      size = 0;
      dropping = false;
      start = nl + 1;
    }
  });
}
