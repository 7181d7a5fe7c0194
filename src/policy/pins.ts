import { createHash } from "node:crypto";
import { canonicalJson } from "../audit/canonical-json.js";
import { effectRank } from "../capabilities/effective.js";
import type { Effect } from "../manifest/schema.js";

/**
 * Pinning of a hosted MCP server's tools (SPEC §15, the rug-pull defence).
 * A server's `tools/list` is untrusted and may change between starts (or
 * mid-session): what the operator approved is the canonical definition of
 * each tool, hashed; a tool is exposed only while the server still lists it
 * with that exact hash.
 */
export interface ServerToolDefinition {
  name: string;
  title?: string | undefined;
  description?: string | undefined;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown> | undefined;
  annotations?: Record<string, unknown> | undefined;
}

export interface ToolPin {
  sha256: string;
  definition: ServerToolDefinition;
}

/** The fields that make a tool what it is; anything else a server sends (e.g. `_meta`, icons) is not exposed. */
export function canonicalDefinition(tool: ServerToolDefinition): ServerToolDefinition {
  const out: ServerToolDefinition = { name: tool.name, inputSchema: tool.inputSchema };
  if (tool.title !== undefined) out.title = tool.title;
  if (tool.description !== undefined) out.description = tool.description;
  if (tool.outputSchema !== undefined) out.outputSchema = tool.outputSchema;
  if (tool.annotations !== undefined) out.annotations = tool.annotations;
  return out;
}

export function pinOf(tool: ServerToolDefinition): ToolPin {
  const definition = canonicalDefinition(tool);
  return { sha256: createHash("sha256").update(canonicalJson(definition)).digest("hex"), definition };
}

/**
 * The effect warden applies to one tool of a server: `effects[name]`, else the
 * manifest's `effect` — never the server's own annotations (untrusted hints: a
 * server claiming `readOnlyHint` must not skip a confirmation).
 */
export function pinnedEffect(name: string, manifest: { effect: Effect; effects?: Record<string, Effect> | undefined }): Effect {
  return manifest.effects && Object.hasOwn(manifest.effects, name) ? manifest.effects[name]! : manifest.effect;
}

export function maxEffect(a: Effect, b: Effect): Effect {
  return effectRank(a) >= effectRank(b) ? a : b;
}

/** What differs between two pinned definitions, field by field (for `warden approve` on re-approval). */
export function definitionChanges(before: ServerToolDefinition, after: ServerToolDefinition): string[] {
  const fields = ["title", "description", "inputSchema", "outputSchema", "annotations"] as const;
  return fields.filter((f) => canonicalJson(before[f] ?? null) !== canonicalJson(after[f] ?? null));
}
