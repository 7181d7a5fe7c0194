import { stat, realpath } from "node:fs/promises";
import { posix, resolve } from "node:path";
import { WardenError } from "../errors.js";
import { digestOfFiles, snapshotToolFolder, type DigestOptions, type ToolFile } from "./digest.js";
import { IMAGE_ID_UNKNOWN, type ImageIdReader } from "./image-id.js";
import { jsonSchemaProblems } from "./json-schema.js";
import { networkPatternProblem } from "./network-patterns.js";
import { formatJsonPath, formatProblemLines, formatZodProblems, MANIFEST_FILE, type ManifestProblem } from "./problems.js";
import { isPlainRelativePath, manifestRuleIssues } from "./rules.js";
import { LIMIT_DEFAULTS, ManifestSchema, type Limits, type Manifest } from "./schema.js";

export interface LoadedTool {
  manifest: Manifest;
  /** Absolute realpath of the tool folder. */
  dir: string;
  /** "sha256:<hex>" over every file of the folder (see digest.ts). */
  digest: string;
  /** Relative paths hashed, sorted. */
  files: string[];
  /** Container (loaded with `imageIdOf`): the engine's image ID bound into the digest. */
  imageId?: string;
  /** Container (loaded with `imageIdOf`): why the image ID could not be read; the digest then binds "unknown". */
  imageProblem?: string;
  /** Manifest limits with defaults filled in (no operator ceiling applied here). */
  limits: Limits;
  /** Isolate: text of the entry file, from the same bytes the digest covers. */
  entrySource?: string;
  /**
   * Isolate: text of every .js/.mjs/.json file by relative path, from the same
   * bytes the digest covers. A backend that loads modules from here runs
   * exactly what was approved, even if the folder changes on disk later.
   */
  sources?: Record<string, string>;
}

const MAX_MANIFEST_BYTES = 256 * 1024;

/**
 * Reads and validates a tool folder. Throws E_MANIFEST listing every problem.
 * `options.imageIdOf` reads a container's image ID from the engine and binds it into the digest (digest.ts).
 */
export async function loadTool(dir: string, options: LoadOptions = {}): Promise<LoadedTool> {
  const { tool, problems } = await validateToolDir(dir, options);
  if (!tool || problems.length > 0) {
    const lines = formatProblemLines(problems);
    throw new WardenError("E_MANIFEST", `tool folder ${dir} has ${lines.length} problem(s):\n${lines.join("\n")}`, { problems });
  }
  return tool;
}

export interface LoadOptions extends DigestOptions {
  /** Container tools: read the image ID from the engine and bind it into the digest (SPEC §2: approvals bind the image). */
  imageIdOf?: ImageIdReader;
}

/** Same checks as loadTool, but returns the problems (for `warden validate`). */
export async function validateToolDir(dir: string, options: LoadOptions = {}): Promise<{ tool: LoadedTool | null; problems: ManifestProblem[] }> {
  const root = await toolRoot(dir);
  if (typeof root !== "string") return { tool: null, problems: [root] };
  const snapshot = await snapshotToolFolder(root);
  const problems = [...snapshot.problems];
  const manifestFile = snapshot.files.find((f) => f.path === MANIFEST_FILE);
  if (!manifestFile) {
    // A refused folder (too big) has no snapshot; do not report a missing manifest on top of that.
    if (snapshot.files.length > 0 || snapshot.problems.length === 0)
      problems.push({ path: "", message: `${MANIFEST_FILE} is missing; fix: create it (\`warden init <name>\` scaffolds one)` });
    return { tool: null, problems };
  }
  const parsed = parseManifestJson(manifestFile.content);
  if ("problem" in parsed) return { tool: null, problems: [...problems, parsed.problem] };
  problems.push(...manifestProblems(parsed.value));
  const entry = entryProblemOrSource(parsed.value, snapshot.files);
  if (typeof entry !== "string" && entry) problems.push(entry);
  const result = ManifestSchema.safeParse(parsed.value);
  if (!result.success || problems.length > 0) return { tool: null, problems };
  const manifest = result.data;
  const image = await imageBinding(manifest, options);
  const tool: LoadedTool = {
    manifest,
    dir: root,
    digest: digestOfFiles(snapshot.files, image.imageId !== undefined ? { imageId: image.imageId } : {}),
    ...(image.imageId !== undefined && image.imageId !== IMAGE_ID_UNKNOWN ? { imageId: image.imageId } : {}),
    ...(image.problem !== undefined ? { imageProblem: image.problem } : {}),
    files: snapshot.files.map((f) => f.path),
    limits: { ...LIMIT_DEFAULTS, ...manifest.limits },
  };
  if (manifest.runtime === "isolate") {
    tool.entrySource = entry as string;
    tool.sources = moduleSources(snapshot.files);
  }
  return { tool, problems };
}

/** A rebuilt tag must drop the approval: the image ID joins the digest (digest.ts). */
async function imageBinding(manifest: Manifest, options: LoadOptions): Promise<{ imageId?: string; problem?: string }> {
  if (manifest.runtime !== "container" || !manifest.image || !options.imageIdOf) return options.imageId !== undefined ? { imageId: options.imageId } : {};
  try {
    return { imageId: await options.imageIdOf(manifest.image) };
  } catch (err) {
    return { imageId: IMAGE_ID_UNKNOWN, problem: (err as Error).message };
  }
}

async function toolRoot(dir: string): Promise<string | ManifestProblem> {
  try {
    const root = await realpath(resolve(dir));
    if (!(await stat(root)).isDirectory()) return { file: ".", path: "", message: `${dir} is not a folder; fix: pass the tool folder that holds ${MANIFEST_FILE}` };
    return root;
  } catch {
    return { file: ".", path: "", message: `${dir} does not exist; fix: pass the tool folder that holds ${MANIFEST_FILE}` };
  }
}

function parseManifestJson(content: Buffer): { value: unknown } | { problem: ManifestProblem } {
  if (content.length > MAX_MANIFEST_BYTES)
    return { problem: { path: "", message: `${MANIFEST_FILE} is larger than ${MAX_MANIFEST_BYTES / 1024} KiB; fix: move long texts out of it` } };
  try {
    return { value: JSON.parse(content.toString("utf8")) };
  } catch (err) {
    return { problem: { path: "", message: `is not valid JSON (${(err as Error).message}); fix: correct the JSON syntax` } };
  }
}

/** Field errors, cross-field rules, JSON Schema compilation and network pattern syntax, all at once. */
function manifestProblems(raw: unknown): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const result = ManifestSchema.safeParse(raw, { reportInput: true });
  if (!result.success) problems.push(...formatZodProblems(result.error, ManifestSchema));
  // zod skips refinements once a field fails; run the cross-field rules anyway so every problem shows at once.
  for (const issue of manifestRuleIssues(raw)) {
    const p = { path: formatJsonPath(issue.path), message: issue.message };
    if (!problems.some((q) => q.path === p.path && q.message === p.message)) problems.push(p);
  }
  if (typeof raw !== "object" || raw === null) return problems;
  const m = raw as Record<string, unknown>;
  for (const key of ["inputSchema", "outputSchema"] as const) {
    const schema = m[key];
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) continue;
    for (const message of jsonSchemaProblems(schema)) problems.push({ path: key, message: `${message}; fix: correct the schema (see json-schema.org, draft 2020-12)` });
  }
  const allow = (m.capabilities as { network?: { allow?: unknown } } | undefined)?.network?.allow;
  if (Array.isArray(allow))
    allow.forEach((pattern, i) => {
      const problem = typeof pattern === "string" ? networkPatternProblem(pattern) : null;
      if (problem) problems.push({ path: `capabilities.network.allow[${i}]`, message: problem });
    });
  return problems;
}

/**
 * Isolate: the entry must be a regular file inside the folder (the snapshot
 * holds no symlinks). Checked on the raw manifest so it is reported together
 * with field errors; an entry the rules already refuse is not looked up.
 */
function entryProblemOrSource(raw: unknown, files: readonly ToolFile[]): string | ManifestProblem | null {
  const m = (typeof raw === "object" && raw !== null ? raw : {}) as { runtime?: unknown; entry?: unknown };
  if (m.runtime !== "isolate" || typeof m.entry !== "string" || !isPlainRelativePath(m.entry)) return null;
  const wanted = posix.normalize(m.entry);
  const file = files.find((f) => f.path === wanted);
  if (!file) return { path: "entry", message: `entry file "${m.entry}" does not exist in the tool folder (or is a link); fix: create it or correct "entry"` };
  return file.content.toString("utf8");
}

function moduleSources(files: readonly ToolFile[]): Record<string, string> {
  const sources: Record<string, string> = {};
  for (const f of files) if (/\.(?:m?js|json)$/.test(f.path)) sources[f.path] = f.content.toString("utf8");
  return sources;
}
