/**
 * warden's side of the control channel to its egress proxy container (egress-control.ts): demultiplexes the
 * attached stream, reads the proxy's JSON lines (validated: the proxy handles hostile traffic, so its lines
 * are not trusted further than their schema), resolves acks in order and hands egress records to their
 * binding. A line that breaks the protocol, or an ack that does not come in time, ends the channel: the
 * caller kills the container and fails closed (a call whose records may be missing is not reported as done).
 */
import { StringDecoder } from "node:string_decoder";
import { z } from "zod";
import { WardenError } from "../../src/errors.js";
import type { EgressRecord } from "../../src/capabilities/types.js";
import type { ControlEvent, UnsequencedCommand } from "./egress-control.js";

/** One control line at most: records are cut in the proxy (host 255, reason 300 characters), so a line is ~1 KB. */
export const CONTROL_LINE_MAX = 16 * 1024;

const RecordSchema = z.strictObject({
  host: z.string().max(4096),
  port: z.number().int().min(0).max(65535),
  method: z.string().max(4096),
  status: z.number().int().min(0).max(999).nullable(),
  bytes: z.number().int().min(0),
  bytesSent: z.number().int().min(0).optional(),
  address: z.string().max(64).optional(),
  denied: z.string().max(8192).optional(),
});

export const ControlEventSchema = z.discriminatedUnion("op", [
  z.strictObject({ op: z.literal("ready"), address: z.string().max(64), port: z.number().int().min(1).max(65535), refused: z.array(z.string().max(64)).max(64) }),
  z.strictObject({ op: z.literal("bound"), seq: z.number().int().min(0) }),
  z.strictObject({ op: z.literal("unbound"), seq: z.number().int().min(0) }),
  z.strictObject({ op: z.literal("synced"), seq: z.number().int().min(0) }),
  z.strictObject({ op: z.literal("egress"), ip: z.string().max(64), callId: z.string().max(512), record: RecordSchema }),
]);

export interface ChannelOptions {
  write(line: string): void;
  onReady(event: Extract<ControlEvent, { op: "ready" }>): void;
  onEgress(ip: string, callId: string, record: EgressRecord): void;
  onStderr?(line: string): void;
  /** The protocol broke or an ack timed out: the proxy can no longer be trusted to report. */
  onBroken(reason: string): void;
  ackTimeoutMs: number;
}

type Pending = { resolve(): void; reject(err: Error): void; timer: NodeJS.Timeout };

export class EgressChannel {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private header = Buffer.alloc(0);
  private frameType = 0;
  private frameLeft = 0;
  private readonly decoders = { 1: new StringDecoder("utf8"), 2: new StringDecoder("utf8") };
  private readonly partial = { 1: "", 2: "" };
  private brokenReason: string | undefined;

  constructor(private readonly options: ChannelOptions) {}

  get broken(): boolean {
    return this.brokenReason !== undefined;
  }

  /** Sends a command and resolves when the proxy acked it (everything it wrote before the ack was read first). */
  command(command: UnsequencedCommand): Promise<void> {
    if (this.brokenReason) return Promise.reject(unavailable(this.brokenReason));
    const seq = ++this.seq;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.break(`the egress proxy did not acknowledge ${command.op} within ${this.options.ackTimeoutMs} ms`), this.options.ackTimeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      try {
        this.options.write(`${JSON.stringify({ ...command, seq })}\n`);
      } catch (err) {
        this.break(`cannot write to the egress proxy (${(err as Error).message})`);
      }
    });
  }

  /** The container's stdio ended, or the caller gives up on it: every waiting command fails closed. */
  break(reason: string): void {
    if (this.brokenReason) return;
    this.brokenReason = reason;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(unavailable(reason));
    }
    this.pending.clear();
    this.options.onBroken(reason);
  }

  /** Docker's multiplexed attach stream: 8-byte header (stream, 0, 0, 0, length BE32), then the payload. */
  push(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0 && !this.brokenReason) {
      if (this.frameLeft === 0) {
        const need = 8 - this.header.length;
        this.header = Buffer.concat([this.header, rest.subarray(0, need)]);
        rest = rest.subarray(need);
        if (this.header.length < 8) return;
        this.frameType = this.header[0]!;
        this.frameLeft = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }
      const take = rest.subarray(0, this.frameLeft);
      rest = rest.subarray(take.length);
      this.frameLeft -= take.length;
      if (this.frameType === 1 || this.frameType === 2) this.text(this.frameType, take);
    }
  }

  private text(stream: 1 | 2, bytes: Buffer): void {
    const all = this.partial[stream] + this.decoders[stream].write(bytes);
    const lines = all.split("\n");
    this.partial[stream] = lines.pop() ?? "";
    if (this.partial[stream].length > CONTROL_LINE_MAX) {
      if (stream === 1) {
        this.break(`the egress proxy wrote a control line over ${CONTROL_LINE_MAX} bytes`);
        return;
      }
      this.partial[stream] = "";
    }
    for (const line of lines) {
      if (this.brokenReason) return;
      if (stream === 2) this.options.onStderr?.(line.slice(0, 2000));
      else this.line(line);
    }
  }

  private line(line: string): void {
    if (line.trim() === "") return;
    let event: ControlEvent;
    try {
      event = ControlEventSchema.parse(JSON.parse(line));
    } catch {
      this.break("the egress proxy wrote a line outside its protocol");
      return;
    }
    if (event.op === "ready") {
      this.options.onReady(event);
      return;
    }
    if (event.op === "egress") {
      this.options.onEgress(event.ip, event.callId, event.record);
      return;
    }
    // Acks come in order: one for a command we did not send (or out of order) is a broken protocol.
    const pending = this.pending.get(event.seq);
    const oldest = this.pending.keys().next().value;
    if (!pending || event.seq !== oldest) {
      this.break(`the egress proxy acknowledged a command it was not sent (${event.seq})`);
      return;
    }
    this.pending.delete(event.seq);
    clearTimeout(pending.timer);
    pending.resolve();
  }
}

function unavailable(reason: string): WardenError {
  return new WardenError("E_SANDBOX_UNAVAILABLE", `egress proxy unavailable: ${reason}; networked calls fail closed until it is restarted`);
}
