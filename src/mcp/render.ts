import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { CallResult } from "../broker/index.js";

/** SPEC §8: success ⇒ structuredContent = output + text; failure ⇒ isError + structuredContent.error. */
export function renderResult(result: CallResult): CallToolResult {
  if (result.ok) {
    const output = result.output;
    const structured = output !== null && typeof output === "object" && !Array.isArray(output) ? (output as Record<string, unknown>) : { result: output };
    return { content: [{ type: "text", text: JSON.stringify(output) }], structuredContent: structured };
  }
  return {
    isError: true,
    content: [{ type: "text", text: `${result.error.code}: ${result.error.message}` }],
    structuredContent: { error: { code: result.error.code, message: result.error.message } },
  };
}
