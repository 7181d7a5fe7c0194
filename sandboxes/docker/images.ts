/**
 * `warden images build`: the base image from Debian packages (no registry is
 * reachable, and tool images are never pulled at call time), the Node runtime
 * image when an image needs it, every tool image under
 * images/tools/<name>/Dockerfile, then the image of every tool folder the
 * caller passes (the config's `tools` globs) whose Dockerfile has a
 * `# warden-image:` line — staged on the host first when it also has a
 * `# warden-stage: npm|pypi` line (images/stage.sh). Progress lines, and
 * failures that name the image and the step that broke.
 */
import type Dockerode from "dockerode";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { WardenError } from "../../src/errors.js";
import { defaultDocker, engineCall, isNotFound } from "./engine.js";

export const BASE_IMAGE = "warden/base:1";
/** warden/base:1 + the Node binary warden runs on: the runtime of npm-published MCP servers (SPEC §15). */
export const NODE_IMAGE = "warden/node:1";
/** warden's egress proxy container (config `container.egress: "container"`), built from this very warden's modules. */
export const EGRESS_IMAGE_NAME = "egress";

export interface BuildImagesOptions {
  /** Repository (or project) root holding images/. */
  root: string;
  onProgress(line: string): void;
  /** Image folder or tool names to build (default all); "base" / "node" force a rebuild of that image. */
  only?: string[];
  /**
   * Tool folders (from the config's `tools` globs): each one whose Dockerfile
   * has a `# warden-image:` line is built, after staging its packages.
   */
  toolDirs?: string[];
  docker?: Dockerode;
}

interface ImageJob {
  name: string;
  dir: string;
  tag: string;
  /** A tool folder (staged into a temporary context) rather than an images/tools folder. */
  staged: boolean;
}

export async function buildImages(options: BuildImagesOptions): Promise<{ built: string[] }> {
  const docker = options.docker ?? defaultDocker();
  const built: string[] = [];
  const forced = (name: string): boolean => options.only?.includes(name) ?? false;
  const jobs = imageJobs(options);
  const unknown = options.only?.filter((n) => n !== "base" && n !== "node" && n !== EGRESS_IMAGE_NAME && !jobs.some((j) => j.name === n)) ?? [];
  if (unknown.length > 0)
    throw new WardenError("E_USAGE", `no image folder images/tools/${unknown[0]} and no tool folder of that name with a "# warden-image:" Dockerfile (known: ${jobs.map((j) => j.name).join(", ") || "none"})`);
  const selected = jobs.filter((j) => !options.only || options.only.includes(j.name));
  if (forced("base") || !(await imageExists(docker, BASE_IMAGE))) {
    await runScript(join(options.root, "images", "base", "build.sh"), [], forced("base"), "base", options.onProgress);
    built.push(BASE_IMAGE);
  } else options.onProgress(`base: ${BASE_IMAGE} already present`);
  const needsNode = forced("node") || selected.some((j) => fromImage(j.dir) === NODE_IMAGE);
  if (needsNode && (forced("node") || !(await imageExists(docker, NODE_IMAGE)))) {
    await runScript(join(options.root, "images", "node", "build.sh"), [], forced("node"), "node", options.onProgress);
    built.push(NODE_IMAGE);
  }
  if (!options.only || options.only.length === 0 || forced(EGRESS_IMAGE_NAME)) {
    // Staged from the compiled modules of the warden running this build (its dist root), so the proxy
    // container enforces exactly this warden's policy code; rebuilt only when they changed (a digest label).
    const dist = fileURLToPath(new URL("../../", import.meta.url));
    await runScript(join(options.root, "images", "egress", "build.sh"), [], forced(EGRESS_IMAGE_NAME), EGRESS_IMAGE_NAME, options.onProgress, { WARDEN_DIST: dist });
  }
  for (const job of selected) {
    if (!job.staged) {
      built.push(await buildToolImage(docker, job.dir, job.tag, options.onProgress));
      continue;
    }
    const context = await mkdtemp(join(tmpdir(), "warden-image-"));
    try {
      await runScript(join(options.root, "images", "stage.sh"), [job.dir, context], false, job.tag, options.onProgress);
      built.push(await buildToolImage(docker, context, job.tag, options.onProgress));
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  }
  return { built };
}

function imageJobs(options: BuildImagesOptions): ImageJob[] {
  const toolsDir = join(options.root, "images", "tools");
  const names = existsSync(toolsDir) ? readdirSync(toolsDir).filter((n) => existsSync(join(toolsDir, n, "Dockerfile"))).sort() : [];
  const jobs: ImageJob[] = names.map((name) => ({ name, dir: join(toolsDir, name), tag: imageTagOf(join(toolsDir, name), name), staged: false }));
  for (const dir of options.toolDirs ?? []) {
    const tag = declaredTag(dir);
    if (tag === undefined) continue;
    const name = basename(dir);
    checkToolFolderTag(dir, tag, jobs);
    jobs.push({ name, dir, tag, staged: true });
  }
  return jobs;
}

/**
 * A tool folder may only build the image its own manifest names, never one of
 * warden's (warden/…) nor another folder's: without this a hostile tool folder
 * in the tools globs could overwrite warden/base:1 or a neighbour's image with
 * its own code at the next `warden images build`.
 */
function checkToolFolderTag(dir: string, tag: string, jobs: readonly ImageJob[]): void {
  let image: unknown;
  try {
    image = (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { image?: unknown }).image;
  } catch (err) {
    throw new WardenError("E_USAGE", `${dir}: manifest.json cannot be read (${(err as Error).message}); fix: \`warden validate ${dir}\``);
  }
  if (tag.startsWith("warden/"))
    throw new WardenError("E_USAGE", `${dir}/Dockerfile: "# warden-image: ${tag}" names one of warden's own images; fix: use the manifest's image, e.g. warden-tools/<name>:1`);
  if (image !== tag)
    throw new WardenError("E_USAGE", `${dir}/Dockerfile: "# warden-image: ${tag}" is not the manifest's image (${JSON.stringify(image)}); fix: make them the same`);
  const other = jobs.find((j) => j.tag === tag);
  if (other) throw new WardenError("E_USAGE", `${dir} and ${other.dir} both build ${tag}; fix: give each tool its own image`);
}

/** The tag: a `# warden-image: <ref>` line in the Dockerfile, else `warden-tools/<folder>:1`. */
export function imageTagOf(dir: string, name: string): string {
  return declaredTag(dir) ?? `warden-tools/${name}:1`;
}

/** The `# warden-image:` line of dir/Dockerfile, if there is one. */
function declaredTag(dir: string): string | undefined {
  const file = join(dir, "Dockerfile");
  if (!existsSync(file)) return undefined;
  return /^#\s*warden-image:\s*(\S+)\s*$/m.exec(readFileSync(file, "utf8"))?.[1];
}

/** The first FROM of dir/Dockerfile (to build warden/node:1 only when an image needs it). */
function fromImage(dir: string): string | undefined {
  return /^FROM\s+(\S+)/im.exec(readFileSync(join(dir, "Dockerfile"), "utf8"))?.[1];
}

export async function imageExists(docker: Dockerode, ref: string): Promise<boolean> {
  try {
    await engineCall("inspect image", docker.getImage(ref).inspect());
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Runs one of the images/ scripts (base, node, stage), relaying its lines as
 * "<label>: …". WARDEN_NODE is warden's own Node: the Node image ships it
 * when the repo's pinned one is absent (an installed package), and npm staging
 * runs on it.
 */
function runScript(script: string, args: string[], force: boolean, label: string, onProgress: (line: string) => void, extraEnv: Record<string, string> = {}): Promise<void> {
  if (!existsSync(script)) throw new WardenError("E_USAGE", `${label}: ${script} is missing`);
  if (label === "base") onProgress(`base: building ${BASE_IMAGE} (debootstrap, about a minute)`);
  return new Promise((resolve, reject) => {
    const env = { ...process.env, WARDEN_NODE: process.env.WARDEN_NODE ?? process.execPath, ...extraEnv, ...(force ? { FORCE: "1" } : {}) };
    const child = spawn("bash", [script, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    const relay = (chunk: Buffer): void => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim().length === 0) continue;
        lines.push(line.trim());
        if (lines.length > 12) lines.shift();
        onProgress(`${label}: ${line.trim()}`);
      }
    };
    child.stdout.on("data", relay);
    child.stderr.on("data", relay);
    child.on("error", (err) => reject(new WardenError("E_USAGE", `${label}: cannot run ${relative(process.cwd(), script)}: ${err.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new WardenError("E_USAGE", `${label} failed (exit ${code}):\n${lines.join("\n") || "no output"}`)),
    );
  });
}

/** `docker build` of one folder, streaming the builder's lines; the error names the image and the failing step. */
export async function buildToolImage(docker: Dockerode, dir: string, tag: string, onProgress: (line: string) => void): Promise<string> {
  onProgress(`${tag}: building from ${dir}`);
  const stream = await engineCall(
    `build ${tag}`,
    docker.buildImage({ context: dir, src: filesUnder(dir) }, { t: tag, rm: true, forcerm: true, pull: false }),
  );
  let step = "start";
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: Array<{ error?: string }>) => {
        const failed = err?.message ?? events.find((e) => e.error)?.error;
        if (failed) reject(new WardenError("E_USAGE", `image ${tag} failed at "${step}": ${failed.trim()}`));
        else resolve();
      },
      (event: { stream?: string; status?: string; error?: string }) => {
        const text = (event.stream ?? event.status ?? "").trim();
        if (/^Step \d+\/\d+ :/.test(text)) step = text;
        if (text) onProgress(`${tag}: ${text}`);
      },
    );
  });
  return tag;
}

function filesUnder(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...filesUnder(dir, rel));
    else out.push(rel);
  }
  return out;
}
