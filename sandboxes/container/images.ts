/**
 * `warden images build`: the base image from Debian packages (no registry is
 * reachable, and tool images are never pulled at call time), then every tool
 * image under images/tools/<name>/Dockerfile, with progress lines and
 * failures that name the image and the step that broke.
 */
import type Dockerode from "dockerode";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { WardenError } from "../../src/errors.js";
import { defaultDocker, engineCall, isNotFound } from "./engine.js";

export const BASE_IMAGE = "warden/base:1";

export interface BuildImagesOptions {
  /** Repository (or project) root holding images/. */
  root: string;
  onProgress(line: string): void;
  /** Tool image folder names to build (default all); "base" forces a base rebuild. */
  only?: string[];
  docker?: Dockerode;
}

export async function buildImages(options: BuildImagesOptions): Promise<{ built: string[] }> {
  const docker = options.docker ?? defaultDocker();
  const built: string[] = [];
  const forceBase = options.only?.includes("base") ?? false;
  if (forceBase || !(await imageExists(docker, BASE_IMAGE))) {
    await buildBase(options.root, options.onProgress, forceBase);
    built.push(BASE_IMAGE);
  } else options.onProgress(`base: ${BASE_IMAGE} already present`);
  const toolsDir = join(options.root, "images", "tools");
  const names = existsSync(toolsDir) ? readdirSync(toolsDir).filter((n) => existsSync(join(toolsDir, n, "Dockerfile"))).sort() : [];
  for (const name of names) {
    if (options.only && !options.only.includes(name)) continue;
    const dir = join(toolsDir, name);
    built.push(await buildToolImage(docker, dir, imageTagOf(dir, name), options.onProgress));
  }
  const unknown = options.only?.filter((n) => n !== "base" && !names.includes(n)) ?? [];
  if (unknown.length > 0) throw new WardenError("E_USAGE", `no image folder images/tools/${unknown[0]} (known: ${names.join(", ") || "none"})`);
  return { built };
}

/** The tag: a `# warden-image: <ref>` line in the Dockerfile, else `warden-tools/<folder>:1`. */
export function imageTagOf(dir: string, name: string): string {
  const m = /^#\s*warden-image:\s*(\S+)\s*$/m.exec(readFileSync(join(dir, "Dockerfile"), "utf8"));
  return m?.[1] ?? `warden-tools/${name}:1`;
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

function buildBase(root: string, onProgress: (line: string) => void, force: boolean): Promise<void> {
  const script = join(root, "images", "base", "build.sh");
  if (!existsSync(script)) throw new WardenError("E_USAGE", `base image: ${relative(root, script)} is missing`);
  onProgress(`base: building ${BASE_IMAGE} (debootstrap, about a minute)`);
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script], { env: { ...process.env, ...(force ? { FORCE: "1" } : {}) }, stdio: ["ignore", "pipe", "pipe"] });
    let last = "";
    const relay = (chunk: Buffer): void => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim().length === 0) continue;
        last = line.trim();
        onProgress(`base: ${last}`);
      }
    };
    child.stdout.on("data", relay);
    child.stderr.on("data", relay);
    child.on("error", (err) => reject(new WardenError("E_USAGE", `base image ${BASE_IMAGE}: cannot run build.sh: ${err.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new WardenError("E_USAGE", `base image ${BASE_IMAGE} failed (exit ${code}) at: ${last || "start"}`)),
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
