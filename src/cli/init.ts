import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { formatProblemLines, validateToolDir } from "../manifest/index.js";
import { MANIFEST_SCHEMA_ID, MANIFEST_SCHEMA_PATH } from "../manifest/json-schema-export.js";
import { scaffoldFiles, scaffoldMcpServerFiles, TOOL_NAME, type PinnedPackage, type ScaffoldRuntime } from "../manifest/scaffold.js";
import { parseNpmSpec, parsePypiSpec, pinNpm, pinPypi } from "./init-packages.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

const USAGE =
  "usage: warden init <name> --runtime isolate|container [--dir <parent folder>]\n" +
  "       warden init <name> --runtime mcp-server --npm <package>[@version] | --pypi <package>[==version] [--dir <parent folder>]\n";

/**
 * `warden init <name> --runtime isolate|container|mcp-server [--dir <parent>]`
 * (SPEC §11, §15): scaffolds a tool folder that `warden validate` accepts as
 * is. Never overwrites: an existing folder of that name is refused (exit 1).
 * For mcp-server the package is pinned first (npm view / pip, with the
 * operator's registry settings), so a failed lookup leaves nothing behind.
 */
export const initCommand: CliCommand = async ({ positionals, flags }, io) => {
  const [name, ...extra] = positionals;
  const runtime = flags.runtime;
  const source = packageSource(flags);
  const known = runtime === "isolate" || runtime === "container" || runtime === "mcp-server";
  if (!name || extra.length > 0 || !known || (flags.dir !== undefined && typeof flags.dir !== "string") || source === "bad" || (runtime === "mcp-server") !== (source !== undefined)) {
    io.stderr(USAGE);
    return EXIT_USAGE;
  }
  if (!TOOL_NAME.test(name)) {
    io.stderr(`warden init: "${name}" is not a valid tool name; fix: use ^[a-z][a-z0-9_]{0,63}$, e.g. "fetch_weather"\n`);
    return EXIT_USAGE;
  }
  let pinned: PinnedPackage | undefined;
  if (source) {
    try {
      // Syntax first (exit 2, no network), then the registry lookup (exit 1 when it fails).
      if (source.registry === "npm") parseNpmSpec(source.spec);
      else parsePypiSpec(source.spec);
    } catch (err) {
      io.stderr(`warden init: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    try {
      pinned = source.registry === "npm" ? await pinNpm(source.spec, name) : await pinPypi(source.spec);
    } catch (err) {
      io.stderr(`warden init: cannot pin ${source.spec} from ${source.registry}: ${(err as Error).message}\n`);
      return EXIT_FAILED;
    }
  }
  const parent = resolve(typeof flags.dir === "string" ? flags.dir : ".");
  const dir = join(parent, name);
  // Rendered before anything is created: a template that refuses its input leaves no half-made folder.
  let files: Record<string, string>;
  try {
    files = pinned ? scaffoldMcpServerFiles(name, pinned, schemaRefFor(dir)) : scaffoldFiles(name, runtime as ScaffoldRuntime, schemaRefFor(dir));
  } catch (err) {
    io.stderr(`warden init: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  await mkdir(parent, { recursive: true });
  try {
    // Non-recursive mkdir is the existence check: no window between "check" and "create".
    await mkdir(dir);
  } catch (err) {
    const exists = (err as NodeJS.ErrnoException).code === "EEXIST";
    io.stderr(`warden init: ${dir} ${exists ? "already exists; refusing to overwrite it" : `cannot be created (${(err as NodeJS.ErrnoException).code})`}\n`);
    return EXIT_FAILED;
  }
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content, { flag: "wx" });
  return reportScaffold(dir, Object.keys(files), runtime, io);
};

async function reportScaffold(dir: string, files: string[], runtime: string, io: Parameters<CliCommand>[1]): Promise<number> {
  const { tool, problems } = await validateToolDir(dir);
  if (!tool) {
    io.stderr(`warden init: the scaffold does not validate (a bug in warden):\n${formatProblemLines(problems).join("\n")}\n`);
    return EXIT_FAILED;
  }
  io.stdout(`created ${dir}: ${files.sort().join(", ")}\n`);
  io.stdout(`ok: ${tool.manifest.name}@${tool.manifest.version} (${runtime}) digest ${tool.digest}\n`);
  if (runtime === "mcp-server") {
    io.stdout(`every tool of ${tool.manifest.name} starts as effect "destructive", with no network, volumes or secrets\n`);
    io.stdout(`next: \`warden images build\` (stages the package on this host, builds ${tool.manifest.image}), then \`warden approve ${tool.manifest.name}\`; lower read-only tools in "effects" and add capabilities only as the server needs them\n`);
  } else io.stdout(`next: edit manifest.json and the code, then \`warden validate ${dir}\`${runtime === "container" ? " and `warden images build`" : ""}\n`);
  return EXIT_OK;
}

/** --npm <spec> or --pypi <spec>, exactly one, each with a value. */
function packageSource(flags: Record<string, string | boolean>): { registry: "npm" | "pypi"; spec: string } | undefined | "bad" {
  const npm = flags.npm;
  const pypi = flags.pypi;
  if (npm === undefined && pypi === undefined) return undefined;
  if (npm !== undefined && pypi !== undefined) return "bad";
  const spec = npm ?? pypi;
  if (typeof spec !== "string" || spec.length === 0) return "bad";
  return { registry: npm !== undefined ? "npm" : "pypi", spec };
}

/**
 * "$schema" of a new manifest: the relative path from the tool folder to the
 * schema shipped in this package (works offline, in the repo and from
 * node_modules/mcp-warden), else the published URL.
 */
function schemaRefFor(dir: string): string {
  const root = packageRoot();
  if (!root || !existsSync(join(root, MANIFEST_SCHEMA_PATH))) return MANIFEST_SCHEMA_ID;
  const rel = relative(dir, join(root, MANIFEST_SCHEMA_PATH)).split(sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    // A text match, not JSON.parse: a package.json being edited must not break `warden init`.
    if (existsSync(pkg) && /"name"\s*:\s*"mcp-warden"/.test(readFileSync(pkg, "utf8"))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}
