import { isIP } from "node:net";

/**
 * Syntax check of `capabilities.network.allow` entries at load time, so a
 * typo is an author-facing manifest problem instead of a silent never-match.
 * TODO: call `parseNetworkPattern` from capabilities/network once it exists,
 * so load time and call time share one parser.
 *
 * Returns null when plausible, else "<problem>; fix: <how>".
 */
export function networkPatternProblem(pattern: string): string | null {
  const fix = 'fix: use "[https://|http://]host[:port]", e.g. "api.example.com", "*.example.org", "files.example.net:8443"';
  const m = /^(?:([a-zA-Z][a-zA-Z0-9+.-]*):\/\/)?(\[[^\]]*\]|[^:/?#\s]*)(?::([^/?#\s]*))?(.*)$/.exec(pattern);
  if (!m) return `"${pattern}" is not a host pattern; ${fix}`;
  const [, scheme, host = "", port, rest = ""] = m;
  if (scheme !== undefined && scheme !== "https" && scheme !== "http") return `scheme "${scheme}" is not allowed (only https or http); ${fix}`;
  // Paths, queries and CIDR suffixes would suggest a finer grant than the broker enforces.
  if (rest !== "") return `"${pattern}" has a path, query or CIDR suffix ("${rest}"), which patterns cannot express; ${fix}`;
  if (port !== undefined && !/^[1-9][0-9]{0,4}$/.test(port)) return `port "${port}" is not a number 1-65535; ${fix}`;
  if (port !== undefined && Number(port) > 65535) return `port ${port} is out of range 1-65535; ${fix}`;
  const hostProblem = hostPatternProblem(host);
  return hostProblem ? `${hostProblem}; ${fix}` : null;
}

function hostPatternProblem(host: string): string | null {
  if (host === "") return "the host is empty";
  if (host.startsWith("[")) return isIP(host.slice(1, -1)) === 6 ? null : `"${host}" is not an IPv6 address`;
  if (host === "*") return '"*" alone would allow every host, which is never allowed';
  if (isIP(host) === 4) return null;
  if (/^[0-9.]+$/.test(host)) return `"${host}" is not a valid IPv4 address`;
  const name = host.startsWith("*.") ? host.slice(2) : host;
  if (name.includes("*")) return `"${host}": a wildcard is only allowed as a leading "*." label`;
  const labels = name.toLowerCase().replace(/\.$/, "").split(".");
  if (host.startsWith("*.") && labels.length < 2) return `"${host}" would match a whole top-level domain`;
  const ok = labels.every((l) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l));
  return ok && name.length <= 253 ? null : `"${host}" is not a valid DNS name`;
}
