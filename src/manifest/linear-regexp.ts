import { RE2JS } from "re2js";
import { WardenError } from "../errors.js";

/**
 * Regular expressions from tool schemas (`pattern`, `patternProperties`) run on
 * RE2 (re2js, a pure-JS port: linear time in the input, no build step), never on
 * V8's backtracking engine: a schema like `^(a+)+$` with 40 × "a" + "b" would
 * otherwise cost the broker seconds of CPU for every tenant (SPEC §14).
 *
 * Patterns RE2 cannot express (backreferences, lookahead, lookbehind) are
 * refused when the schema is compiled, i.e. at manifest load, with a problem
 * that says so — never silently run on another engine.
 */
export class UnsupportedPatternError extends WardenError {
  constructor(pattern: string, reason: string) {
    super(
      "E_MANIFEST",
      `pattern ${JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern)} cannot run on the linear-time regex engine (${reason}); ` +
        "rewrite it without backreferences or lookaround",
    );
  }
}

/** Ajv's `code.regExp` hook: `(pattern, flags) => {test}`. */
export function linearRegExp(pattern: string, flags: string): { test(s: string): boolean; toString(): string } {
  let re: RE2JS;
  try {
    // JSON Schema patterns are ECMA-262: translate JS-only spellings (named groups, \u{…}) first.
    re = RE2JS.compile(RE2JS.translateRegExp(pattern), flags.includes("i") ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    throw new UnsupportedPatternError(pattern, err instanceof Error ? err.message.slice(0, 200) : String(err));
  }
  // Ajv caches compiled patterns by `toString()`: it must be unique per pattern and flags,
  // or every pattern of a schema would silently run as the first one compiled.
  const key = `re2:/${pattern}/${flags}`;
  return { test: (s: string) => re.test(s), toString: () => key };
}
// Ajv names the engine in code it generates for standalone output; warden never emits standalone code.
linearRegExp.code = "linearRegExp";
