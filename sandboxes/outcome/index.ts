/**
 * The outcome vocabulary every backend shares (sandboxes/executor.ts): failures, what an aborted call
 * answers, and the output bound. One place, so a backend cannot answer a cancellation or an oversized
 * result differently from another (the contract suite checks the codes).
 */
import { abortPayload, type ErrorCode } from "../../src/errors.js";
import type { ContentBlock, ExecuteOutcome } from "../executor.js";

export function failure(code: ErrorCode, message: string): ExecuteOutcome {
  return { ok: false, error: { code, message } };
}

/**
 * A call stopped by its signal: the code the stopper gave (E_TIMEOUT from a deadline, E_DISABLED from the
 * kill switch, E_CANCELLED from a client …), else E_CANCELLED.
 */
export function stoppedOutcome(signal: AbortSignal, message = "the call was cancelled"): ExecuteOutcome {
  return { ok: false, error: abortPayload(signal.reason, message) };
}

/** Size of an output as the broker measures it: its UTF-8 JSON. */
export function outputBytesOf(output: unknown): number {
  return Buffer.byteLength(JSON.stringify(output) ?? "null", "utf8");
}

/**
 * An output within `limit` bytes of UTF-8 JSON is the call's result; a larger one is E_OUTPUT_TOO_LARGE (a tool
 * must not flood the client, the audit hash or the broker's memory). `bytes` when the caller measured already.
 */
export function boundedOutput(name: string, output: unknown, limit: number, bytes = outputBytesOf(output), content?: ContentBlock[]): ExecuteOutcome {
  if (bytes > limit) return failure("E_OUTPUT_TOO_LARGE", `${name} returned ${bytes} bytes of output; its limit is ${limit}`);
  return content ? { ok: true, output, outputBytes: bytes, content } : { ok: true, output, outputBytes: bytes };
}
