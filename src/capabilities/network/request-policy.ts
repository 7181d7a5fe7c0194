import type { FetchRequest } from "../../../sandboxes/executor.js";
import { WardenError } from "../../errors.js";

export interface PreparedRequest {
  method: string;
  /** Lower-case names; only headers a tool may set. */
  headers: Record<string, string>;
  body: Buffer | null;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

// Headers that decide framing, routing or connection reuse belong to us, not
// the tool: Host would let it pick another virtual host behind an allowed
// address; Content-Length / Transfer-Encoding / TE / Trailer could make the
// peer or an intermediary frame the body differently (request smuggling);
// Connection / Upgrade / HTTP2-Settings would switch the socket to a tunnel
// we no longer account for; Proxy-* would address an intermediary; Expect
// stalls the exchange on 100-continue.
const FORBIDDEN_HEADERS = new Set([
  "host", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "expect", "http2-settings",
]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_HEADERS = 100;
const MAX_HEADER_BYTES = 32 * 1024;

/** Validates a tool's request before any connection: method, headers, body size. */
export function prepareRequest(tool: string, request: FetchRequest, maxRequestBytes: number): PreparedRequest {
  const method = String(request.method ?? "GET").toUpperCase();
  if (!METHODS.has(method))
    throw new WardenError("E_CAPABILITY_DENIED", `network: method ${JSON.stringify(method.slice(0, 20))} is not allowed for ${tool}; use one of ${[...METHODS].join(", ")}`);
  return { method, headers: prepareHeaders(tool, request.headers), body: prepareBody(tool, request.body, maxRequestBytes) };
}

function prepareHeaders(tool: string, given: unknown): Record<string, string> {
  if (given === undefined || given === null) return {};
  if (typeof given !== "object" || Array.isArray(given)) throw new WardenError("E_TOOL_FAILED", "fetch: headers must be an object of name → string value");
  const entries = Object.entries(given as Record<string, unknown>);
  if (entries.length > MAX_HEADERS) throw new WardenError("E_CAPABILITY_DENIED", `network: more than ${MAX_HEADERS} request headers from ${tool}`);
  const headers: Record<string, string> = {};
  let bytes = 0;
  for (const [rawName, rawValue] of entries) {
    const name = rawName.toLowerCase();
    if (!TOKEN.test(name)) throw new WardenError("E_TOOL_FAILED", `fetch: ${JSON.stringify(rawName.slice(0, 60))} is not a valid header name`);
    if (FORBIDDEN_HEADERS.has(name) || name.startsWith("proxy-"))
      throw new WardenError("E_CAPABILITY_DENIED", `network: ${tool} may not set the ${name} header; mcp-warden sets framing and connection headers itself`);
    if (typeof rawValue !== "string") throw new WardenError("E_TOOL_FAILED", `fetch: the value of header ${name} must be a string`);
    // CR/LF would start a new header line (header injection); NUL is never valid.
    if (/[\r\n\0]/.test(rawValue)) throw new WardenError("E_CAPABILITY_DENIED", `network: the value of header ${name} contains CR, LF or NUL, which is refused`);
    if (name in headers) throw new WardenError("E_TOOL_FAILED", `fetch: header ${name} is given twice (names are case-insensitive)`);
    bytes += name.length + Buffer.byteLength(rawValue);
    headers[name] = rawValue;
  }
  if (bytes > MAX_HEADER_BYTES) throw new WardenError("E_CAPABILITY_DENIED", `network: request headers from ${tool} exceed ${MAX_HEADER_BYTES} bytes`);
  return headers;
}

function prepareBody(tool: string, body: unknown, maxRequestBytes: number): Buffer | null {
  if (body === undefined || body === null) return null;
  let size: number;
  if (typeof body === "string") size = Buffer.byteLength(body);
  else if (body instanceof Uint8Array || body instanceof ArrayBuffer) size = body.byteLength;
  else throw new WardenError("E_TOOL_FAILED", "fetch: body must be a string or a Uint8Array");
  // Checked before allocating or connecting: an oversized upload never leaves the host.
  if (size > maxRequestBytes)
    throw new WardenError("E_CAPABILITY_DENIED", `network: request body of ${size} bytes from ${tool} exceeds the limit of ${maxRequestBytes} bytes; send less data per request`);
  if (typeof body === "string") return Buffer.from(body, "utf8");
  return body instanceof ArrayBuffer ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
