import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { RegisteredTool } from "../broker/registry.js";

/** tools/list entry: schemas, title and hints derived from the effective effect and capabilities (SPEC §8). */
export function toolListing(tool: RegisteredTool): Tool {
  if (tool.definition) return serverToolListing(tool, tool.definition);
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

/**
 * A hosted server's tool (SPEC §15): the definition pinned at approval, under
 * warden's name for it; the hints come from the effect warden applies, never
 * from the server's own annotations (untrusted).
 */
function serverToolListing(tool: RegisteredTool, d: NonNullable<RegisteredTool["definition"]>): Tool {
  return {
    name: tool.name,
    ...(d.title !== undefined ? { title: d.title } : {}),
    ...(d.description !== undefined ? { description: d.description } : {}),
    inputSchema: d.inputSchema as Tool["inputSchema"],
    ...(d.outputSchema ? { outputSchema: d.outputSchema as NonNullable<Tool["outputSchema"]> } : {}),
    annotations: {
      ...(d.title !== undefined ? { title: d.title } : {}),
      readOnlyHint: tool.effect === "read",
      destructiveHint: tool.effect === "destructive",
      idempotentHint: false,
      openWorldHint: tool.capabilities.network.length > 0,
    },
  };
}
