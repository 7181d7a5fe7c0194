import type { ErrorObject, ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import { Ajv as AjvDraft07 } from "ajv";
import formatsModule from "ajv-formats";
import { linearRegExp, UnsupportedPatternError } from "./linear-regexp.js";

/**
 * JSON Schema checks for tool input and output (SPEC §2: draft 2020-12 subset
 * the MCP SDK accepts). The broker compiles each tool's schemas once at load
 * and validates every call with the returned function.
 *
 * Safety choices:
 * - No remote `$ref`: no `loadSchema` is configured, so a reference that is
 *   not inside the schema fails compilation (the host never fetches a URL a
 *   tool author chose).
 * - `allErrors` so a model gets every problem in one round trip, but at most
 *   MAX_PROBLEMS are reported (a huge array of bad items must not produce a
 *   huge error message).
 * - `strict: false`: unknown keywords (e.g. "examples" in odd places) are
 *   ignored as the SDK does; `logger: false` because stdout is the stdio
 *   transport.
 * - `pattern` / `patternProperties` run on RE2 (linear-regexp.ts), so no
 *   tool schema can make the broker backtrack; patterns RE2 cannot run are
 *   refused at load.
 */
export const MAX_PROBLEMS = 20;

export type SchemaCheck = (value: unknown) => { ok: true } | { ok: false; problems: string[] };

// ajv-formats is CommonJS: under NodeNext its default import is module.exports, the plugin itself.
const addFormats = ((formatsModule as unknown as { default?: unknown }).default ?? formatsModule) as unknown as (ajv: Ajv2020 | AjvDraft07) => void;

const OPTIONS = { strict: false, allErrors: true, validateFormats: true, logger: false as const, code: { regExp: linearRegExp } };

// One shared instance: creating an Ajv with formats costs ~25 ms (measured), compiling a schema on it well under 1 ms.
let shared: Ajv2020 | undefined;
let sharedDraft07: AjvDraft07 | undefined;

/**
 * Schemas that declare draft-07 (every tool schema of the community npm MCP servers, made with
 * zod-to-json-schema, says `"$schema": "http://json-schema.org/draft-07/schema#"`) compile on a
 * draft-07 Ajv with the same options, formats and linear-time patterns; everything else is 2020-12.
 */
const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;

function newAjvDraft07(): AjvDraft07 {
  const ajv = new AjvDraft07(OPTIONS);
  addFormats(ajv);
  return ajv;
}

function newAjv2020(): Ajv2020 {
  const ajv = new Ajv2020(OPTIONS);
  addFormats(ajv);
  return ajv;
}

function compileOn(ajv: Ajv2020 | AjvDraft07, schema: object): ValidateFunction {
  try {
    return ajv.compile(schema);
  } finally {
    // Unregister it (and its $id) at once: the compiled function stays usable, a second tool
    // may reuse the same $id, no later schema can $ref into this tool's schema, and
    // reloads do not grow the cache.
    ajv.removeSchema(schema);
  }
}

/** Compiles a JSON Schema (draft 2020-12). Throws the Ajv compile error when the schema is invalid. */
export function compileJsonSchema(schema: object): SchemaCheck {
  const declared = (schema as { $schema?: unknown }).$schema;
  const ajv = typeof declared === "string" && DRAFT_07.test(declared) ? (sharedDraft07 ??= newAjvDraft07()) : (shared ??= newAjv2020());
  const validate = compileOn(ajv, schema);
  return (value) => (validate(value) ? { ok: true } : { ok: false, problems: describeErrors(validate) });
}

function describeErrors(validate: ValidateFunction): string[] {
  const errors = validate.errors ?? [];
  const shown = errors.slice(0, MAX_PROBLEMS).map(describeError);
  if (errors.length > MAX_PROBLEMS) shown.push(`… and ${errors.length - MAX_PROBLEMS} more`);
  return shown;
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath ? e.instancePath : "(root)";
  if (e.keyword === "additionalProperties")
    return `${where}: unknown property "${String((e.params as { additionalProperty?: unknown }).additionalProperty)}"`;
  if (e.keyword === "required") return `${where}: missing required property "${String((e.params as { missingProperty?: unknown }).missingProperty)}"`;
  return `${where}: ${e.message ?? e.keyword}`;
}

/**
 * Problems that stop a tool's schema from being served: it must compile as
 * draft 2020-12 with meta-schema validation (what the broker validates with).
 * That is stricter than the MCP SDK's own validator (draft-07 Ajv,
 * `strict: false`, `validateSchema: false`, which SDK clients run on every
 * outputSchema after tools/list): every schema tried that compiles here also
 * compiles there, including 2020-12 keywords and "$schema" declarations
 * (test/manifest/json-schema.test.ts checks examples against the SDK's class).
 */
export function jsonSchemaProblems(schema: object): string[] {
  try {
    compileJsonSchema(schema);
    return [];
  } catch (err) {
    if (err instanceof UnsupportedPatternError) return [`has a ${err.message}`];
    return [`is not a valid JSON Schema (draft 2020-12): ${compileMessage(err)}`];
  }
}

function compileMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}
