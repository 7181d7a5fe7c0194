import type { RegisteredTool } from "./registry.js";

const EFFECT_CLASSES = new Set(["read", "write", "destructive"]);

/** Kill switch (SPEC §6): `disabled` holds tool names, effect classes or "*". */
export function isDisabled(tool: RegisteredTool, disabled: readonly string[]): boolean {
  return disabled.includes("*") || disabled.includes(tool.name) || disabled.includes(tool.effect);
}

/**
 * Identity scope (SPEC §13): `allow` lists tool names and/or effect classes.
 * Names compare exactly (a name in different case is another name, and tool
 * names are lower-case only), so no spelling reaches a tool outside the scope.
 */
export function isAllowedFor(tool: RegisteredTool, allow: readonly string[] | undefined): boolean {
  if (allow === undefined) return true;
  return allow.some((a) => a === tool.name || (EFFECT_CLASSES.has(a) && a === tool.effect));
}
