/**
 * Redaction of secret values and of configured keys. A tool that echoes its API
 * key, or a model that pastes a password into arguments, must not put either
 * into a log line, an audit record or a result that leaves the server.
 */
export const REDACTED = "[REDACTED]";

/** Secrets shorter than this are not redacted by value (too many false hits); config refuses them. */
export const MIN_SECRET_LENGTH = 4;

export interface RedactionResult<T> {
  value: T;
  redacted: boolean;
}

/** Replaces every occurrence of a secret value inside any string of a JSON value (keys too). */
export function redactSecretValues<T>(value: T, secrets: readonly string[]): RedactionResult<T> {
  const active = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH);
  if (active.length === 0) return { value, redacted: false };
  let redacted = false;
  const scrub = (text: string): string => {
    let out = text;
    for (const s of active) {
      if (out.includes(s)) {
        out = out.split(s).join(REDACTED);
        redacted = true;
      }
    }
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return scrub(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) defineOwn(out, scrub(k), walk(inner));
      return out;
    }
    return v;
  };
  const out = walk(value) as T;
  return { value: out, redacted };
}

/** Replaces the values of object keys named in `keys` (case-insensitive), at any depth. */
export function redactKeys<T>(value: T, keys: readonly string[]): T {
  if (keys.length === 0) return value;
  const wanted = new Set(keys.map((k) => k.toLowerCase()));
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) defineOwn(out, k, wanted.has(k.toLowerCase()) ? REDACTED : walk(inner));
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

export function redactText(text: string, secrets: readonly string[]): string {
  return redactSecretValues(text, secrets).value;
}

/** Assignment that cannot trigger the `__proto__` setter (prototype pollution through tool output). */
function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
