/** The one JSON object a container tool writes on stdout (SPEC §4): `{"output": …}` or `{"error": {"message"}}`. */

export type ToolResult =
  | { kind: "output"; output: unknown }
  | { kind: "error"; message: string }
  | { kind: "none" }
  | { kind: "invalid"; reason: string };

const MESSAGE_MAX = 2000;

export function parseToolResult(stdout: string): ToolResult {
  const text = stdout.trim();
  if (text.length === 0) return { kind: "none" };
  const value = parseObject(text) ?? parseObject(lastLine(text));
  if (value === undefined) return { kind: "invalid", reason: "wrote something on stdout that is not one JSON object" };
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

function lastLine(text: string): string {
  return text.slice(text.lastIndexOf("\n") + 1);
}
