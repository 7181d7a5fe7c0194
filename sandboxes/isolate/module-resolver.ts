/**
 * The only imports a tool may make: relative files of its own folder. Bare
 * specifiers, absolute paths, URLs (`node:`, `file:`, `data:`) and `..` that
 * climbs out of the folder are refused — each would reach code the operator
 * never approved (a host module, Node built-ins, another tool's files).
 */
import { posix } from "node:path";

export type Resolution = { ok: true; path: string } | { ok: false; message: string };

export function resolveToolImport(specifier: string, referrer: string, modules: Record<string, string>): Resolution {
  if (!specifier.startsWith("./") && !specifier.startsWith("../"))
    return { ok: false, message: `import "${specifier}" refused: an isolate tool may only import relative files inside its folder (e.g. "./util.js"); Node built-ins and packages are not available` };
  const resolved = posix.normalize(posix.join(posix.dirname(referrer), specifier));
  if (resolved.startsWith("../") || resolved === ".." || posix.isAbsolute(resolved))
    return { ok: false, message: `import "${specifier}" from ${referrer} refused: it leaves the tool folder` };
  if (!Object.hasOwn(modules, resolved))
    return { ok: false, message: `import "${specifier}" from ${referrer}: no module file ${resolved} in the tool folder` };
  return { ok: true, path: resolved };
}
