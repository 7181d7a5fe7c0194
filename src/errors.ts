/**
 * The one error type of mcp-warden. Every refusal carries a stable code from
 * SPEC §9 (clients and tests match on it) and a message written for a person:
 * what was refused and how the operator could allow it.
 */
export const ERROR_CODES = [
  "E_UNKNOWN_TOOL",
  "E_DISABLED",
  "E_NOT_APPROVED",
  "E_INPUT_INVALID",
  "E_OUTPUT_INVALID",
  "E_CAPABILITY_DENIED",
  "E_NOT_CONFIRMED",
  "E_TIMEOUT",
  "E_MEMORY",
  "E_OUTPUT_TOO_LARGE",
  "E_CANCELLED",
  "E_BUSY",
  "E_TOOL_FAILED",
  "E_SANDBOX_UNAVAILABLE",
  "E_SANDBOX_CRASHED",
  "E_FORBIDDEN",
  // Not tool-call outcomes: configuration and manifest problems found at load.
  "E_CONFIG",
  "E_MANIFEST",
  "E_AUDIT",
  "E_USAGE",
  // Outcomes of `warden rollback`, written into its audit record (not tool-call outcomes).
  "E_NO_JOURNAL",
  "E_CONFLICT",
  "E_ALREADY_ROLLED_BACK",
  "E_ROLLBACK_INCOMPLETE",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

export class WardenError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (never secrets, never host paths). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "WardenError";
    this.code = code;
    this.details = details;
  }

  toPayload(): ErrorPayload {
    return { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/** Turns anything thrown into a WardenError without leaking a host stack. */
export function toWardenError(err: unknown, fallback: ErrorCode = "E_TOOL_FAILED"): WardenError {
  if (err instanceof WardenError) return err;
  if (err && typeof err === "object" && isErrorCode((err as { code?: unknown }).code)) {
    const e = err as { code: ErrorCode; message?: unknown };
    return new WardenError(e.code, String(e.message ?? e.code));
  }
  const message = err instanceof Error ? err.message : String(err);
  return new WardenError(fallback, message);
}

/**
 * What a request or call stopped by an AbortSignal answers, from the signal's reason: the stopper's own code
 * (a WardenError, or an object with a known `code`: E_TIMEOUT from a deadline, E_DISABLED from the kill
 * switch …), else E_CANCELLED with `message`. The one mapping of abort reasons (broker, capabilities, backends).
 */
export function abortPayload(reason: unknown, message = "the call was cancelled"): ErrorPayload {
  if (reason instanceof WardenError) return reason.toPayload();
  const code = (reason as { code?: unknown } | null)?.code;
  if (isErrorCode(code)) return { code, message: String((reason as { message?: unknown }).message ?? code) };
  return { code: "E_CANCELLED", message };
}
