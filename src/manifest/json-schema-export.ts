import { z } from "zod";
import { ManifestSchema } from "./schema.js";

/** Where editors and `warden init` find the published schema. */
export const MANIFEST_SCHEMA_ID = "https://unpkg.com/mcp-warden/schema/manifest.schema.json";
/** Path of the shipped schema inside the package. */
export const MANIFEST_SCHEMA_PATH = "schema/manifest.schema.json";

/**
 * JSON Schema of manifest.json for editor completion (SPEC §2), generated from
 * ManifestSchema so the two cannot drift. Cross-field rules that zod states as
 * a refinement are added as if/then so editors flag a missing entry or image
 * too; the loader stays the authority (it also checks what JSON Schema cannot).
 */
export function manifestJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ManifestSchema, { target: "draft-2020-12", io: "input", unrepresentable: "throw" }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: MANIFEST_SCHEMA_ID,
    title: "mcp-warden tool manifest",
    description: "manifest.json of an mcp-warden tool plugin: identity, runtime, effect, input/output schemas, capabilities and limits.",
    ...rest,
    allOf: [
      {
        if: { properties: { runtime: { const: "isolate" } }, required: ["runtime"] },
        then: { required: ["entry"], not: { anyOf: [{ required: ["image"] }, { required: ["command"] }] } },
      },
      {
        if: { properties: { runtime: { const: "container" } }, required: ["runtime"] },
        then: { required: ["image"], not: { required: ["entry"] } },
      },
    ],
  };
}

/** The file content as committed: stable key order, two-space indent, trailing newline. */
export function manifestJsonSchemaText(): string {
  return `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`;
}
