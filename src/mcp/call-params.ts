/**
 * `tools/call` params as a hostile client may send them. The SDK's own schema
 * check answers a malformed call with a zod dump (-32603) before any handler
 * sees it, so nothing is audited; warden reads the params itself instead:
 * every attempt reaches the broker (one audit record) and the client gets a
 * short -32602 (#18.9).
 */
export type CallParams =
  | { ok: true; name: string; arguments: unknown; progressToken: string | number | undefined }
  | { ok: false; name: string; arguments: unknown; problem: string };

const MAX_NAME = 256;

export function readCallParams(params: unknown): CallParams {
  const p = params !== null && typeof params === "object" && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
  const rawName = p.name;
  // A name that is not a string is recorded as "<number>", "<object>"…: never a tool's name (^[a-z][a-z0-9_]*$), so nothing runs.
  const name = typeof rawName === "string" ? rawName.slice(0, MAX_NAME) : `<${rawName === null ? "null" : typeof rawName}>`;
  const args = p.arguments;
  if (typeof rawName !== "string") return { ok: false, name, arguments: args ?? {}, problem: "params.name must be a string" };
  if (args !== undefined && (args === null || typeof args !== "object" || Array.isArray(args)))
    return { ok: false, name, arguments: args, problem: "params.arguments must be an object" };
  const meta = p._meta !== null && typeof p._meta === "object" ? (p._meta as Record<string, unknown>) : {};
  const token = meta.progressToken;
  return { ok: true, name, arguments: args ?? {}, progressToken: typeof token === "string" || typeof token === "number" ? token : undefined };
}
