import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { CallResult } from "../broker/index.js";

/** Where the machine-readable error of a failed call sits in the result's `_meta` (SPEC §8, §9). */
export const ERROR_META_KEY = "mcp-warden/error";

/**
 * SPEC §8: success ⇒ structuredContent = output + its JSON text.
 * Failure ⇒ isError, one text block "CODE: message" and `{code, message}` in
 * `_meta["mcp-warden/error"]` — never structuredContent: SDK 1.x clients
 * (`Client.callTool`, Inspector) validate any structuredContent against the
 * tool's outputSchema, even on an error, and would throw instead of showing it.
 */
export function renderResult(result: CallResult): CallToolResult {
  if (result.ok && result.content) {
    // A hosted MCP server's result (SPEC §15): its content blocks as they were, its structuredContent if it sent one.
    const structured = result.output;
    return {
      content: result.content as CallToolResult["content"],
      ...(structured !== undefined && structured !== null && typeof structured === "object" ? { structuredContent: structured as Record<string, unknown> } : {}),
    };
  }
  if (result.ok) {
    const output = result.output;
    const structured = output !== null && typeof output === "object" && !Array.isArray(output) ? (output as Record<string, unknown>) : { result: output };
    return { content: [{ type: "text", text: JSON.stringify(output) }], structuredContent: structured };
  }
  return {
    isError: true,
    content: [{ type: "text", text: `${result.error.code}: ${result.error.message}` }],
    _meta: { [ERROR_META_KEY]: { code: result.error.code, message: result.error.message } },
  };
}
