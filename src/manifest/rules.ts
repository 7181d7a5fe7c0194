/**
 * Cross-field rules of manifest.json (SPEC §2) that a per-field schema cannot
 * say. They take the raw parsed JSON (not yet validated), so `warden validate`
 * can report them together with field errors: zod skips refinements once a
 * field fails, and an author fixing problems one run at a time gives up.
 */
export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

export function manifestRuleIssues(raw: unknown): RuleIssue[] {
  if (!isObject(raw)) return [];
  return [...runtimeIssues(raw), ...effectIssues(raw), ...volumeIssues(raw)];
}

function runtimeIssues(m: Raw): RuleIssue[] {
  const issues: RuleIssue[] = [];
  if (m.runtime === "isolate") {
    if (m.entry === undefined)
      issues.push({ path: ["entry"], message: 'an isolate tool needs "entry"; fix: add "entry": "index.js" (the ES module file to run)' });
    if (m.image !== undefined)
      issues.push({ path: ["image"], message: '"image" is only for container tools; fix: remove it, or set "runtime": "container"' });
    if (m.command !== undefined)
      issues.push({ path: ["command"], message: '"command" is only for container tools; fix: remove it, or set "runtime": "container"' });
    if (typeof m.entry === "string" && !isPlainRelativePath(m.entry))
      // Stops `"entry": "../../etc/x.js"` or an absolute path: the sandbox must only load code the digest covers.
      issues.push({ path: ["entry"], message: "entry must be a relative path inside the tool folder; fix: use a path like \"index.js\" or \"src/main.js\" (no \"..\", no leading \"/\", no backslashes)" });
    else if (typeof m.entry === "string" && !/\.m?js$/.test(m.entry))
      issues.push({ path: ["entry"], message: 'entry must be an ES module file ending in .js or .mjs; fix: point "entry" at your .js module' });
  } else if (m.runtime === "mcp-server") {
    issues.push(...mcpServerIssues(m));
  } else if (m.runtime === "container") {
    if (m.image === undefined)
      issues.push({ path: ["image"], message: 'a container tool needs "image"; fix: add "image": "warden-tools/<name>:1" (built locally with `warden images build`)' });
    if (m.entry !== undefined)
      issues.push({ path: ["entry"], message: '"entry" is only for isolate tools; fix: remove it (use "command" for containers), or set "runtime": "isolate"' });
    if (typeof m.image === "string" && !IMAGE_REF.test(m.image))
      issues.push({ path: ["image"], message: `"${m.image}" is not a valid image reference; fix: use "repository[:tag]" in lower case, e.g. "warden-tools/pdf-extract:1"` });
  }
  if (m.runtime === "isolate" || m.runtime === "container") {
    if (m.inputSchema === undefined)
      issues.push({ path: ["inputSchema"], message: '"inputSchema" is missing: a tool needs it; fix: add "inputSchema": {"type": "object"} describing its arguments' });
    for (const key of ["lifecycle", "toolPrefix", "effects"])
      if (m[key] !== undefined) issues.push({ path: [key], message: `"${key}" is only for mcp-server tools; fix: remove it, or set "runtime": "mcp-server"` });
  }
  return issues;
}

/** SPEC §15: the server's own tools/list is the source of names and schemas, pinned at approval. */
function mcpServerIssues(m: Raw): RuleIssue[] {
  const issues: RuleIssue[] = [];
  if (m.image === undefined)
    issues.push({ path: ["image"], message: 'an mcp-server tool needs "image"; fix: add "image": "warden-tools/<name>:1" (built locally with `warden images build`)' });
  else if (typeof m.image === "string" && !IMAGE_REF.test(m.image))
    issues.push({ path: ["image"], message: `"${m.image}" is not a valid image reference; fix: use "repository[:tag]" in lower case, e.g. "warden-tools/files:1"` });
  for (const key of ["entry", "inputSchema", "outputSchema"])
    if (m[key] !== undefined)
      issues.push({ path: [key], message: `"${key}" is not allowed for mcp-server tools: the server's own tools/list is the source, pinned by \`warden approve\`; fix: remove it` });
  return issues;
}

/** The author may overstate an effect, never understate what a capability implies (SPEC §2). */
function effectIssues(m: Raw): RuleIssue[] {
  const caps = isObject(m.capabilities) ? m.capabilities : {};
  const fs = Array.isArray(caps.filesystem) ? caps.filesystem : [];
  const readWrite = fs.some((f) => isObject(f) && f.access === "read-write");
  if (readWrite && m.effect === "read")
    return [{ path: ["effect"], message: 'a tool with a read-write volume cannot claim effect "read"; fix: set "effect": "write" (or "destructive"), or make the volume "read"' }];
  return [];
}

function volumeIssues(m: Raw): RuleIssue[] {
  const caps = isObject(m.capabilities) ? m.capabilities : {};
  const fs = Array.isArray(caps.filesystem) ? caps.filesystem : [];
  const issues: RuleIssue[] = [];
  const seen = new Set<string>();
  for (const [i, f] of fs.entries()) {
    if (!isObject(f) || typeof f.volume !== "string") continue;
    if (seen.has(f.volume))
      issues.push({ path: ["capabilities", "filesystem", i, "volume"], message: `volume "${f.volume}" is listed twice; fix: keep one entry per volume with the widest access it needs` });
    seen.add(f.volume);
  }
  return issues;
}

/** A relative POSIX path that stays inside the folder. */
export function isPlainRelativePath(p: string): boolean {
  if (p.length === 0 || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((seg) => seg !== ".." && seg !== "");
}

// Docker reference grammar, simplified: [registry[:port]/]path[:tag][@sha256:hex], lower-case path components.
const IMAGE_REF =
  /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
