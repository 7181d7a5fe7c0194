/** Reads warden's machine-readable error from a tools/call result (SPEC §8: `_meta["mcp-warden/error"]`). */
export interface WardenErrorMeta {
  code: string;
  message: string;
}

export function errorOf(result: { _meta?: Record<string, unknown> | undefined }): WardenErrorMeta | undefined {
  return result._meta?.["mcp-warden/error"] as WardenErrorMeta | undefined;
}

export function errorCodeOf(result: { _meta?: Record<string, unknown> | undefined }): string | undefined {
  return errorOf(result)?.code;
}
