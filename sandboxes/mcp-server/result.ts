/**
 * A hosted server's tools/call result → the backend's outcome (SPEC §15):
 * content blocks of the five known types pass through, the whole result is
 * bounded by the tool's output budget, and the server's own `isError` is a
 * tool failure carrying its text.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ContentBlock, ExecuteOutcome } from "../executor.js";
import { boundedOutput, outputBytesOf } from "../outcome/index.js";

const FORWARDED = new Set(["text", "image", "audio", "resource", "resource_link"]);
const MAX_ERROR_TEXT = 2000;

export function outcomeOf(result: CallToolResult, name: string, outputBytes: number): ExecuteOutcome {
  const content = Array.isArray(result.content) ? (result.content as ContentBlock[]) : [];
  if (result.isError === true) {
    const text = content
      .filter((c) => c.type === "text" && typeof c.text === "string")
      .map((c) => c.text as string)
      .join("\n");
    return { ok: false, error: { code: "E_TOOL_FAILED", message: `${name} failed: ${(text || "the server reported an error without text").slice(0, MAX_ERROR_TEXT)}` } };
  }
  const odd = content.find((c) => !FORWARDED.has(c.type));
  if (odd)
    return { ok: false, error: { code: "E_OUTPUT_INVALID", message: `${name} returned a content block of type ${JSON.stringify(String(odd.type).slice(0, 40))}, which warden does not forward` } };
  const structured = result.structuredContent;
  // The bound covers the whole result (blocks and structuredContent), as the client receives it.
  return boundedOutput(name, structured, outputBytes, outputBytesOf({ content, structuredContent: structured }), content);
}
