import { WardenError } from "../errors.js";

/**
 * JSON with object keys sorted (UTF-16 code unit order, as Array.prototype.sort)
 * and no whitespace. The audit hash is computed over this text, so it must be a
 * pure function of the value: the verifier re-derives it from the parsed line
 * years later, and JSON.parse → canonicalJson gives back the very same text.
 *
 * Same value rules as JSON.stringify (toJSON is honoured, undefined/functions/
 * symbols are dropped from objects and become null in arrays, non-finite
 * numbers become null). A "__proto__" key is serialized as an ordinary key,
 * never used to change a prototype (tool input is attacker-controlled).
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, new Set()) ?? "null";
}

function serialize(input: unknown, ancestors: Set<object>): string | undefined {
  let value = input;
  if (value !== null && (typeof value === "object" || typeof value === "bigint")) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") value = toJSON.call(value, "");
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();

  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      throw new WardenError("E_AUDIT", "audit record contains a BigInt, which JSON cannot represent");
    case "object":
      return value === null ? "null" : serializeObject(value, ancestors);
    default:
      return undefined; // undefined, function, symbol
  }
}

function serializeObject(value: object, ancestors: Set<object>): string {
  if (ancestors.has(value)) throw new WardenError("E_AUDIT", "audit record contains a circular reference");
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((item) => serialize(item, ancestors) ?? "null").join(",")}]`;
    }
    return `{${members(value, ancestors).map(([, member]) => member).join(",")}}`;
  } finally {
    ancestors.delete(value);
  }
}

/**
 * The members of an object's canonical text as [key, `"key":value`] pairs in
 * canonical order, so a caller can hash a record and then write it with one
 * more member without serializing it twice.
 */
export function canonicalMembers(value: object): Array<[key: string, member: string]> {
  return members(value, new Set([value]));
}

function members(value: object, ancestors: Set<object>): Array<[string, string]> {
  const parts: Array<[string, string]> = [];
  for (const key of Object.keys(value).sort()) {
    const text = serialize((value as Record<string, unknown>)[key], ancestors);
    if (text !== undefined) parts.push([key, `${JSON.stringify(key)}:${text}`]);
  }
  return parts;
}
