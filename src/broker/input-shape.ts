/**
 * Arguments come from the model (semi-trusted, SPEC §1). Before anything walks
 * them recursively (redaction, schema checks, audit serialisation) they are
 * copied into plain own-property JSON values with a bounded depth and size: a
 * 4 KB argument nested 2,000 levels deep must not overflow the stack of the
 * process that serves everyone, and a `__proto__` key stays a plain key instead
 * of becoming a prototype whose inherited values satisfy `required`.
 */
export const MAX_INPUT_DEPTH = 64;
export const MAX_INPUT_NODES = 200_000;

export type Shaped = { ok: true; value: unknown } | { ok: false; reason: string };

export function shapeInput(input: unknown): Shaped {
  let nodes = 0;
  const copy = (v: unknown, depth: number): unknown => {
    if (++nodes > MAX_INPUT_NODES) throw new RangeError(`more than ${MAX_INPUT_NODES} values`);
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new RangeError("a number that is not finite");
      return v;
    }
    if (depth >= MAX_INPUT_DEPTH) throw new RangeError(`nested deeper than ${MAX_INPUT_DEPTH} levels`);
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
    if (typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v as object))
        Object.defineProperty(out, key, { value: copy((v as Record<string, unknown>)[key], depth + 1), enumerable: true, writable: true, configurable: true });
      return out;
    }
    throw new RangeError(`a value of type ${typeof v} is not JSON`);
  };
  if (input === null || typeof input !== "object" || Array.isArray(input)) return { ok: false, reason: "arguments must be a JSON object" };
  try {
    return { ok: true, value: copy(input, 0) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
