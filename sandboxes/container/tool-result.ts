/**
 * The JSON objects a container tool writes on stdout (SPEC §4): the result —
 * `{"output": …}` or `{"error": {"message"}}` — optionally preceded by progress
 * objects `{"progress": n, "total": m}` ("total" optional), which are relayed as
 * MCP progress notifications.
 */

export type ToolResult =
  | { kind: "output"; output: unknown }
  | { kind: "error"; message: string }
  | { kind: "none" }
  | { kind: "invalid"; reason: string };

export type StdoutObject = ToolResult | { kind: "progress"; done: number; total?: number };

const MESSAGE_MAX = 2000;
export const NOT_ONE_OBJECT = "wrote something on stdout that is not one JSON object";

/** Classifies one complete JSON text found on stdout. */
export function classifyStdoutObject(text: string): StdoutObject {
  const value = parseObject(text);
  if (value === undefined) return { kind: "invalid", reason: NOT_ONE_OBJECT };
  if ("progress" in value && !("output" in value) && !("error" in value)) {
    const done = value.progress;
    const total = value.total;
    if (typeof done === "number" && Number.isFinite(done) && (total === undefined || (typeof total === "number" && Number.isFinite(total))))
      return total === undefined ? { kind: "progress", done } : { kind: "progress", done, total };
    return { kind: "invalid", reason: 'wrote a progress object whose "progress"/"total" are not numbers' };
  }
  if ("output" in value && !("error" in value)) return { kind: "output", output: value.output };
  if ("error" in value) {
    const err = value.error as { message?: unknown } | null;
    const message = typeof err?.message === "string" ? err.message : "the tool reported an error without a message";
    return { kind: "error", message: message.slice(0, MESSAGE_MAX) };
  }
  return { kind: "invalid", reason: "wrote a JSON object with neither \"output\" nor \"error\"" };
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
