/**
 * Bytes on the IPC channel. JSON serialization is measurably cheaper than
 * "advanced" on the hot path (call → done: ~30-60 µs less per round trip on
 * this machine), so the rare byte payloads of host calls — fetch bodies,
 * readFile/writeFile data — travel as base64 in exactly the fields that may
 * hold bytes. Only those named fields are decoded: a tool cannot smuggle a
 * `{ b64 }` object anywhere else and have it turn into bytes in the broker.
 */
import { Buffer } from "node:buffer";
import type { FsOperation, HostResult } from "../executor.js";
import type { HostRequest } from "./protocol.js";

export interface WireBytes {
  b64: string;
}

function isWireBytes(value: unknown): value is WireBytes {
  return value !== null && typeof value === "object" && typeof (value as WireBytes).b64 === "string";
}

const encode = <T>(value: T): T | WireBytes => (value instanceof Uint8Array ? { b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") } : value);

/** A plain Uint8Array (not a Buffer), so the copy into an isolate is the standard type. */
function decode(value: unknown): unknown {
  if (!isWireBytes(value)) return value;
  const buf = Buffer.from(value.b64, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function hostRequestToWire(request: HostRequest): HostRequest {
  if (request.op === "fetch" && request.request.body !== undefined)
    return { op: "fetch", request: { ...request.request, body: encode(request.request.body) as string } };
  if (request.op === "fs" && request.operation.op === "writeFile")
    return { op: "fs", operation: { ...request.operation, data: encode(request.operation.data) as string } };
  return request;
}

export function hostRequestFromWire(request: HostRequest): HostRequest {
  if (request.op === "fetch" && request.request.body !== undefined)
    return { op: "fetch", request: { ...request.request, body: decode(request.request.body) as string | Uint8Array } };
  if (request.op === "fs" && request.operation.op === "writeFile")
    return { op: "fs", operation: { ...request.operation, data: decode(request.operation.data) as string | Uint8Array } as FsOperation };
  return request;
}

export function hostResultToWire(op: HostRequest["op"], result: HostResult<unknown>): HostResult<unknown> {
  if (!result.ok) return result;
  const value = result.value as { body?: unknown } | null;
  if (op === "fetch" && value && typeof value === "object") return { ok: true, value: { ...value, body: encode(value.body) } };
  return { ok: true, value: encode(result.value) };
}

export function hostResultFromWire(op: HostRequest["op"], result: HostResult<unknown>): HostResult<unknown> {
  if (!result.ok) return result;
  const value = result.value as { body?: unknown } | null;
  if (op === "fetch" && value && typeof value === "object") return { ok: true, value: { ...value, body: decode(value.body) } };
  return { ok: true, value: decode(result.value) };
}
