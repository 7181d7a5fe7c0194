import { WardenError } from "../errors.js";
import type { RegisteredTool } from "./registry.js";

const EFFECT_CLASSES = new Set(["read", "write", "destructive"]);

/** An identity's `allow` list; undefined = everything enabled and approved. */
export type Allow = readonly string[] | undefined;

/**
 * Where a call reads its identity's scope from. A function is re-read at every
 * check: a scope the operator narrows while a call waits (for a human, for a
 * slot) applies to that call, not only to the next one.
 */
export type AllowSource = Allow | (() => Allow);

export function currentAllow(source: AllowSource): Allow {
  return typeof source === "function" ? source() : source;
}

/** Kill switch (SPEC §6): `disabled` holds tool names, effect classes or "*". */
export function isDisabled(tool: RegisteredTool, disabled: readonly string[]): boolean {
  return disabled.includes("*") || disabled.includes(tool.name) || disabled.includes(tool.effect);
}

/**
 * Identity scope (SPEC §13): `allow` lists tool names and/or effect classes.
 * Names compare exactly (a name in different case is another name, and tool
 * names are lower-case only), so no spelling reaches a tool outside the scope.
 */
export function isAllowedFor(tool: RegisteredTool, allow: Allow): boolean {
  if (allow === undefined) return true;
  return allow.some((a) => a === tool.name || (EFFECT_CLASSES.has(a) && a === tool.effect));
}

/**
 * The one answer for "no such tool" — also given for a tool outside the
 * caller's scope, so a scoped token cannot learn which other tools exist, their
 * effect, whether they are disabled or their digest. `auditAs` keeps the real
 * reason for the operator's audit record.
 */
export function unknownToolError(name: unknown, auditAs?: "E_FORBIDDEN"): WardenError {
  return new WardenError("E_UNKNOWN_TOOL", `unknown tool "${String(name).slice(0, 100)}"`, auditAs ? { auditAs } : undefined);
}
