import { createHash, type Hash } from "node:crypto";
import { WardenError } from "../errors.js";
import { quoteString } from "./canonical-json.js";

/** Size and sha256 of a value's canonical JSON, or only a lower bound when it was too large to measure. */
export type CanonicalDigest = { bytes: number; sha256: string } | { atLeastBytes: number };

const SLICE_CHARS = 1 << 20;

class BudgetSpent extends Error {}

/**
 * Streams the canonical JSON of `value` (same rules as canonicalJson) into a
 * sha256 without ever building the text: a value whose text would exceed V8's
 * string limit (the `RangeError: Invalid string length` that poisoned the log,
 * issue 17) can still be described by size and digest. Work is bounded by
 * `budgetBytes` so one hostile record cannot stall the broker hashing
 * hundreds of MB: past it only a lower bound is returned.
 */
export function canonicalDigest(value: unknown, budgetBytes: number): CanonicalDigest {
  const walker = new DigestWalker(budgetBytes);
  try {
    walker.value(value);
  } catch (err) {
    if (err instanceof BudgetSpent) return { atLeastBytes: walker.bytes };
    throw err;
  }
  return { bytes: walker.bytes, sha256: walker.hash.digest("hex") };
}

class DigestWalker {
  readonly hash: Hash = createHash("sha256");
  bytes = 0;
  readonly #ancestors = new Set<object>();
  constructor(private readonly budget: number) {}

  #emit(text: string): void {
    this.bytes += Buffer.byteLength(text, "utf8");
    if (this.bytes > this.budget) throw new BudgetSpent();
    this.hash.update(text, "utf8");
  }

  /** Returns false when the value is dropped (undefined, function, symbol) — as JSON.stringify. */
  value(input: unknown): boolean {
    return this.resolved(toJsonValue(input));
  }

  resolved(value: unknown): boolean {
    switch (typeof value) {
      case "string":
        this.#string(value);
        return true;
      case "number":
        this.#emit(Number.isFinite(value) ? JSON.stringify(value) : "null");
        return true;
      case "boolean":
        this.#emit(value ? "true" : "false");
        return true;
      case "bigint":
        throw new WardenError("E_AUDIT", "audit record contains a BigInt, which JSON cannot represent");
      case "object":
        if (value === null) this.#emit("null");
        else this.#object(value);
        return true;
      default:
        return false;
    }
  }

  /** Long strings in slices (never split inside a surrogate pair: its halves would be escaped differently). */
  #string(text: string): void {
    if (text.length <= SLICE_CHARS) {
      this.#emit(quoteString(text));
      return;
    }
    this.#emit('"');
    for (let at = 0; at < text.length; ) {
      let end = Math.min(at + SLICE_CHARS, text.length);
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
      this.#emit(quoteString(text.slice(at, end)).slice(1, -1));
      at = end;
    }
    this.#emit('"');
  }

  #object(value: object): void {
    if (this.#ancestors.has(value)) throw new WardenError("E_AUDIT", "audit record contains a circular reference");
    this.#ancestors.add(value);
    try {
      if (Array.isArray(value)) {
        this.#emit("[");
        for (let i = 0; i < value.length; i++) {
          if (i > 0) this.#emit(",");
          if (!this.value(value[i])) this.#emit("null");
        }
        this.#emit("]");
        return;
      }
      this.#emit("{");
      let first = true;
      for (const key of Object.keys(value).sort()) {
        const member = toJsonValue((value as Record<string, unknown>)[key]);
        if (member === undefined || typeof member === "function" || typeof member === "symbol") continue;
        this.#emit(`${first ? "" : ","}${quoteString(key)}:`);
        this.resolved(member);
        first = false;
      }
      this.#emit("}");
    } finally {
      this.#ancestors.delete(value);
    }
  }
}

/** toJSON applied and primitive wrappers unwrapped, as JSON.stringify does before looking at a value. */
function toJsonValue(input: unknown): unknown {
  let value = input;
  if (value !== null && (typeof value === "object" || typeof value === "bigint")) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") value = toJSON.call(value, "");
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
  return value;
}
