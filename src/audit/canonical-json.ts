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
 *
 * U+2028 and U+2029 are written as `\u2028` / `\u2029`: JSON.stringify leaves
 * them raw, and a reader that splits lines on Unicode line separators (many
 * editors, log shippers, `str.splitlines()`) would otherwise see one record as
 * two — a tool could forge what looks like an extra line.
 */
export function canonicalJson(value: unknown, options: CanonicalOptions = {}): string {
  return serialize(value, new SerializeState(options)) ?? "null";
}

export interface CanonicalOptions {
  /** Throw RecordTooLargeError once the text would exceed this many UTF-16 units (checked as it is built). */
  maxChars?: number;
  /** Records written before U+2028/U+2029 were escaped were hashed with them raw (verify only). */
  rawLineSeparators?: boolean;
}

/** A value whose canonical text would exceed the caller's bound: nothing of it was kept. */
export class RecordTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`canonical JSON exceeds ${limit} characters`);
  }
}

const LINE_SEPARATOR = /[\u2028\u2029]/;

/** JSON string literal; U+2028/U+2029 escaped unless `raw` (legacy records). */
export function quoteString(text: string, raw = false): string {
  const quoted = JSON.stringify(text);
  if (raw || !LINE_SEPARATOR.test(quoted)) return quoted;
  return quoted.replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

class SerializeState {
  readonly ancestors = new Set<object>();
  chars = 0;
  readonly maxChars: number;
  readonly raw: boolean;
  constructor(options: CanonicalOptions) {
    this.maxChars = options.maxChars ?? Infinity;
    this.raw = options.rawLineSeparators === true;
  }
  /** Counts leaf text (strings, numbers, keys): a bound on the whole text up to punctuation. */
  add(text: string): string {
    this.chars += text.length + 1;
    if (this.chars > this.maxChars) throw new RecordTooLargeError(this.maxChars);
    return text;
  }
}

function serialize(input: unknown, state: SerializeState): string | undefined {
  let value = input;
  if (value !== null && (typeof value === "object" || typeof value === "bigint")) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") value = toJSON.call(value, "");
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();

  switch (typeof value) {
    case "string":
      // Checked before quoting: a string near V8's limit must not be copied first.
      if (value.length > state.maxChars) throw new RecordTooLargeError(state.maxChars);
      return state.add(quoteString(value, state.raw));
    case "number":
      return state.add(Number.isFinite(value) ? JSON.stringify(value) : "null");
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      throw new WardenError("E_AUDIT", "audit record contains a BigInt, which JSON cannot represent");
    case "object":
      return value === null ? "null" : serializeObject(value, state);
    default:
      return undefined; // undefined, function, symbol
  }
}

function serializeObject(value: object, state: SerializeState): string {
  if (state.ancestors.has(value)) throw new WardenError("E_AUDIT", "audit record contains a circular reference");
  state.ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((item) => serialize(item, state) ?? "null").join(",")}]`;
    }
    return `{${members(value, state).map(([, member]) => member).join(",")}}`;
  } finally {
    state.ancestors.delete(value);
  }
}

/**
 * The members of an object's canonical text as [key, `"key":value`] pairs in
 * canonical order, so a caller can hash a record and then write it with one
 * more member without serializing it twice.
 */
export function canonicalMembers(value: object, options: CanonicalOptions = {}): Array<[key: string, member: string]> {
  const state = new SerializeState(options);
  state.ancestors.add(value);
  return members(value, state);
}

function members(value: object, state: SerializeState): Array<[string, string]> {
  const parts: Array<[string, string]> = [];
  for (const key of Object.keys(value).sort()) {
    const text = serialize((value as Record<string, unknown>)[key], state);
    if (text !== undefined) parts.push([key, `${state.add(quoteString(key, state.raw))}:${text}`]);
  }
  return parts;
}
