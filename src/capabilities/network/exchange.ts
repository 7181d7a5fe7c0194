import { request as httpRequest, type IncomingMessage } from "node:http";
import { WardenError } from "../../errors.js";
import { Aborted } from "./abort.js";
import type { PinnedAgent, PinnedRequestOptions } from "./pinned-agent.js";
import type { PinnedTarget } from "./pinned-connection.js";
import type { PreparedRequest } from "./request-policy.js";

export interface ExchangeResult {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  /** null when the body was not read (a redirect we follow). */
  body: Buffer | null;
  bytes: number;
}

export interface ExchangeOptions {
  path: string;
  /** Host header value (WHATWG `url.host`). */
  hostHeader: string;
  maxResponseBytes: number;
  /** Status codes whose body is skipped (redirects we are about to follow). */
  skipBody(status: number, headers: Record<string, string>): boolean;
}

/**
 * One HTTP/1.1 exchange over a checked connection from the call's own
 * PinnedAgent (never the global agent, so no proxy environment variable can
 * reroute it). The response body is counted as it arrives and the socket
 * destroyed the moment it passes the bound, so a hostile server cannot make
 * the host buffer more than that.
 */
export function exchange(agent: PinnedAgent, target: PinnedTarget, request: PreparedRequest, options: ExchangeOptions, signal: AbortSignal, onBytes: (n: number) => void): Promise<ExchangeResult> {
  return new Promise<ExchangeResult>((resolve, reject) => {
    const headers: Record<string, string> = { "user-agent": "mcp-warden", ...request.headers, host: options.hostHeader };
    if (request.body) headers["content-length"] = String(request.body.length);
    const pinned: PinnedRequestOptions = { pinned: target, pinnedSignal: signal };
    const req = httpRequest({ method: request.method, path: options.path, headers, setHost: false, agent, joinDuplicateHeaders: true, ...pinned });
    let settled = false;
    // keep = the response was read to its end: the agent may reuse the socket.
    const finish = (err: unknown, result?: ExchangeResult, keep = false) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (!keep) req.destroy();
      if (err) reject(err);
      else resolve(result!);
    };
    const onAbort = () => finish(new Aborted());
    if (signal.aborted) return finish(new Aborted());
    signal.addEventListener("abort", onAbort, { once: true });

    req.once("error", (err) => {
      // Refusals and aborts from the pinned connect keep their own meaning.
      if (err instanceof WardenError || err instanceof Aborted) return finish(err);
      finish(new WardenError("E_TOOL_FAILED", `network: request to ${options.hostHeader} failed (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    });
    req.once("response", (res) => readResponse(res, request.method, options, onBytes, finish));
    req.end(request.body ?? undefined);
  });
}

function readResponse(res: IncomingMessage, method: string, options: ExchangeOptions, onBytes: (n: number) => void, finish: (err: unknown, result?: ExchangeResult, keep?: boolean) => void): void {
  const status = res.statusCode ?? 0;
  const headers = flattenHeaders(res);
  const result = (body: Buffer | null, bytes: number): ExchangeResult => ({ status, statusText: res.statusMessage ?? "", headers, body, bytes });
  if (options.skipBody(status, headers)) {
    finish(null, result(null, 0));
    return;
  }
  const tooLarge = () =>
    new WardenError("E_CAPABILITY_DENIED", `network: the response from ${options.hostHeader} is larger than the limit of ${options.maxResponseBytes} bytes; the download was stopped`, {
      denied: `response over ${options.maxResponseBytes} bytes`,
    });
  // A declared length over the bound is refused before reading anything
  // (HEAD, 204 and 304 declare a length but carry no body).
  const declared = Number(headers["content-length"]);
  const bodyless = method === "HEAD" || status === 204 || status === 304;
  if (!bodyless && Number.isFinite(declared) && declared > options.maxResponseBytes) {
    finish(tooLarge());
    return;
  }

  const chunks: Buffer[] = [];
  let bytes = 0;
  res.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    onBytes(bytes);
    if (bytes > options.maxResponseBytes) return finish(tooLarge());
    chunks.push(chunk);
  });
  res.once("end", () => finish(null, result(Buffer.concat(chunks, bytes), bytes), true));
  res.once("error", (err) => finish(new WardenError("E_TOOL_FAILED", `network: reading the response from ${options.hostHeader} failed (${(err as NodeJS.ErrnoException).code ?? err.message})`)));
  res.once("close", () => {
    if (!res.complete) finish(new WardenError("E_TOOL_FAILED", `network: the connection to ${options.hostHeader} closed before the response was complete`));
  });
}

function flattenHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
