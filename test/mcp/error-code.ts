/**
 * The error code of an isError result, wherever the server put it: SPEC §8 says
 * `_meta["mcp-warden/error"]` (and no structuredContent); older builds used
 * `structuredContent.error`.
 */
export function errorCodeOf(r: { _meta?: unknown; structuredContent?: unknown }): string | undefined {
  const meta = (r._meta as Record<string, { code?: string } | undefined> | undefined)?.["mcp-warden/error"];
  return meta?.code ?? (r.structuredContent as { error?: { code?: string } } | undefined)?.error?.code;
}
