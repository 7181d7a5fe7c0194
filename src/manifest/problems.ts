import type { z } from "zod";

/** One problem found in a tool folder. `message` reads "<problem>; fix: <how>". */
export interface ManifestProblem {
  /** JSON path like "capabilities.network.allow[2]", or "" for the root / the file as a whole. */
  path: string;
  message: string;
  /** File the problem is in, relative to the tool folder; absent means manifest.json. */
  file?: string;
}

export const MANIFEST_FILE = "manifest.json";

/** ["capabilities","network","allow",2] → "capabilities.network.allow[2]". */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(seg))) out += out ? `.${String(seg)}` : String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/**
 * Turns zod issues into problems a person can act on: where, what, and the fix.
 * Pass the schema that produced the error to get "did you mean" hints for
 * unknown keys (the config loader reuses this with its own schema). Parse
 * with `{ reportInput: true }` to get "did you mean" hints for enum values.
 */
export function formatZodProblems(error: z.ZodError, schema?: z.ZodType): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      const known = schema ? knownKeysAt(schema, issue.path) : [];
      for (const key of issue.keys) {
        const guess = closest(key, known);
        const hint = guess ? `; did you mean "${guess}"?` : known.length ? ` (known keys: ${known.join(", ")})` : "";
        problems.push({ path: formatJsonPath([...issue.path, key]), message: `unknown key "${key}"; fix: remove it${hint}` });
      }
      continue;
    }
    problems.push({ path: formatJsonPath(issue.path), message: describeIssue(issue) });
  }
  return problems;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.message.includes("; fix:")) return issue.message;
  switch (issue.code) {
    case "invalid_type": {
      const received = /received (\w+)/.exec(issue.message)?.[1];
      if (received === "undefined") return `required ${issue.expected} is missing; fix: add it`;
      return `expected ${article(issue.expected)}, got ${received ?? "something else"}; fix: change it to ${article(issue.expected)}`;
    }
    case "invalid_value": {
      const options = issue.values.map((v) => JSON.stringify(v)).join(", ");
      if (!("input" in issue) || issue.input === undefined) return `required value is missing; fix: add it with one of ${options}`;
      const guess = typeof issue.input === "string" ? closest(issue.input, issue.values.map(String)) : undefined;
      return `${JSON.stringify(issue.input)} is not one of ${options}; fix: ${guess ? `did you mean "${guess}"?` : "use one of them"}`;
    }
    case "too_small":
      return `${issue.message.replace(/^Too small: /, "too small: ")}; fix: ${fixForBound("at least", issue.origin, issue.minimum)}`;
    case "too_big":
      return `${issue.message.replace(/^Too big: /, "too big: ")}; fix: ${fixForBound("at most", issue.origin, issue.maximum)}`;
    case "invalid_format":
      return `${issue.message}; fix: change the value to the expected format`;
    default:
      return `${issue.message}; fix: see SPEC §2 for the rule`;
  }
}

function fixForBound(bound: string, origin: string, n: number | bigint): string {
  if (origin === "string") return `use ${bound} ${n} characters`;
  if (origin === "array" || origin === "set") return `use ${bound} ${n} entries`;
  return `use a value of ${bound} ${n}`;
}

function article(type: string): string {
  if (type === "int") return "an integer";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Known keys of the object schema at `path` (arrays and optionals walked through). */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const seg of path) {
    node = unwrap(node);
    const def = (node as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown; valueType?: unknown } }).def;
    if (def?.type === "object" && typeof seg === "string") node = def.shape?.[seg];
    else if (def?.type === "array") node = def.element;
    else if (def?.type === "record") node = def.valueType;
    else return [];
  }
  const def = (unwrap(node) as { def?: { type?: string; shape?: Record<string, unknown> } }).def;
  return def?.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

function unwrap(node: unknown): unknown {
  for (let i = 0; i < 10; i++) {
    const def = (node as { def?: { type?: string; innerType?: unknown; in?: unknown } } | undefined)?.def;
    if (!def) return node;
    if ((def.type === "optional" || def.type === "nullable" || def.type === "default") && def.innerType) node = def.innerType;
    else if (def.type === "pipe" && def.in) node = def.in;
    else return node;
  }
  return node;
}

/** The known key within edit distance 2 (or a case-insensitive match), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

/** "<file>: <json path>: <problem>; fix: <how>", one per line. */
export function formatProblemLines(problems: readonly ManifestProblem[]): string[] {
  return problems.map((p) => `${p.file ?? MANIFEST_FILE}: ${p.path || "(root)"}: ${p.message}`);
}
