import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { RegisteredTool } from "../broker/registry.js";

/** tools/list entry: schemas, title and hints derived from the effective effect and capabilities (SPEC §8). */
export function toolListing(tool: RegisteredTool): Tool {
  const m = tool.loaded.manifest;
  return {
    name: tool.name,
    ...(m.title ? { title: m.title } : {}),
    description: m.description,
    inputSchema: m.inputSchema as Tool["inputSchema"],
    ...(m.outputSchema ? { outputSchema: m.outputSchema as NonNullable<Tool["outputSchema"]> } : {}),
    annotations: {
      ...(m.title ? { title: m.title } : {}),
      readOnlyHint: tool.effect === "read",
      destructiveHint: tool.effect === "destructive",
      idempotentHint: false,
      openWorldHint: tool.capabilities.network.length > 0,
    },
  };
}
