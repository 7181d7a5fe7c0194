/**
 * Pins the package of `warden init --runtime mcp-server --npm|--pypi` (SPEC §15)
 * with the operator's own npm / pip, so their registry, proxy and CA settings
 * apply: a range, a tag or no version at all becomes one exact version, and for
 * npm a package-lock.json fixes every dependency with its integrity hash (an
 * image rebuilt next month installs the same bytes, or fails).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { NPM_PACKAGE, NPM_VERSION, npmPackageJson, PYPI_PACKAGE, PYPI_VERSION, type PinnedPackage } from "../manifest/scaffold.js";

const TIMEOUT_MS = 120_000;

/** `<pkg>[@<version|range|tag>]` (the scope's "@" is not a separator). */
export function parseNpmSpec(spec: string): { name: string; range: string | undefined } {
  const at = spec.indexOf("@", spec.startsWith("@") ? 1 : 0);
  const name = at > 0 ? spec.slice(0, at) : spec;
  const range = at > 0 ? spec.slice(at + 1) : undefined;
  if (!NPM_PACKAGE.test(name)) throw new Error(`"${name}" is not an npm package name (e.g. @modelcontextprotocol/server-filesystem)`);
  if (range !== undefined && !/^[0-9A-Za-z.^~<>=*| +-]{1,64}$/.test(range)) throw new Error(`"${range}" is not an npm version, range or tag`);
  return { name, range: range || undefined };
}

/** `<pkg>[==<version>]`: PyPI pins are exact; no ranges (pip would pick a different version tomorrow). */
export function parsePypiSpec(spec: string): { name: string; version: string | undefined } {
  const [name = "", version, ...rest] = spec.split("==");
  if (!PYPI_PACKAGE.test(name) || rest.length > 0) throw new Error(`"${spec}" is not <package>[==<version>] (e.g. mcp-server-fetch==2025.4.7)`);
  if (version !== undefined && !PYPI_VERSION.test(version)) throw new Error(`"${version}" is not an exact PyPI version; fix: use <package>==<version>, e.g. ==1.2.0`);
  return { name, version };
}

/** npm view → exact version and bin; then a lock file from `npm install --package-lock-only --ignore-scripts`. */
export async function pinNpm(spec: string, toolName: string): Promise<PinnedPackage> {
  const { name, range } = parseNpmSpec(spec);
  const viewed = JSON.parse(await npm(["view", `${name}@${range ?? "latest"}`, "name", "version", "bin", "--json"], tmpdir())) as unknown;
  // A range matching several versions gives an array, oldest first: the newest match is pinned.
  const entries = (Array.isArray(viewed) ? viewed : [viewed]) as Array<{ version?: unknown; bin?: unknown }>;
  const meta = entries.at(-1);
  if (!meta || typeof meta.version !== "string" || !NPM_VERSION.test(meta.version))
    throw new Error(`npm view ${name}@${range ?? "latest"} gave no exact version`);
  const pinned: PinnedPackage = { registry: "npm", name, version: meta.version, bin: pickBin(name, meta.bin) };
  const work = await mkdtemp(join(tmpdir(), "warden-init-lock-"));
  try {
    await writeFile(join(work, "package.json"), npmPackageJson(toolName, name, pinned.version));
    await npm(["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], work);
    pinned.lock = await readFile(join(work, "package-lock.json"), "utf8");
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return pinned;
}

/** The server's executable: the bin named like the package, else the only one; a package without bin has none. */
function pickBin(name: string, bin: unknown): string | undefined {
  if (typeof bin === "string") return bin;
  if (typeof bin !== "object" || bin === null) return undefined;
  const entries = Object.entries(bin as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string");
  const base = name.split("/").at(-1)!;
  return (entries.find(([k]) => k === base || k === `mcp-${base}`) ?? entries[0])?.[1];
}

/** PyPI: the version given, else the newest release `pip index versions` reports. */
export async function pinPypi(spec: string): Promise<PinnedPackage> {
  const { name, version } = parsePypiSpec(spec);
  if (version !== undefined) return { registry: "pypi", name, version };
  const out = await run(process.env.WARDEN_PIP ?? "python3 -m pip", ["index", "versions", "--disable-pip-version-check", name], tmpdir());
  const latest = /^\S+ \(([^)\s]+)\)/m.exec(out)?.[1];
  if (!latest || !PYPI_VERSION.test(latest)) throw new Error(`pip index versions ${name} gave no exact version:\n${out.slice(0, 400)}`);
  return { registry: "pypi", name, version: latest };
}

/** npm with warden's own Node first on PATH (npm's shebang picks `node`); the operator's .npmrc applies. */
function npm(args: string[], cwd: string): Promise<string> {
  return run("npm", args, cwd, { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` });
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const [file, ...pre] = command.split(" ").filter(Boolean);
  return new Promise((resolve, reject) => {
    execFile(file!, [...pre, ...args], { cwd, env: { ...process.env, ...env }, timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(" ")} failed: ${(stderr || err.message).trim().split("\n").slice(-6).join("\n")}`));
      else resolve(stdout);
    });
  });
}
