/**
 * Files of a new tool folder (`warden init`). Each template must pass
 * `validateToolDir` as written — test/cli/init.test.ts holds us to that.
 */
export type ScaffoldRuntime = "isolate" | "container";

export const TOOL_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** Relative file path → content. `schemaRef` goes into "$schema" for editor completion. */
export function scaffoldFiles(name: string, runtime: ScaffoldRuntime, schemaRef: string): Record<string, string> {
  const files: Record<string, string> = {
    "manifest.json": json(manifestFor(name, runtime, schemaRef)),
    "test-call.json": json({ text: "Hello from warden" }),
  };
  if (runtime === "isolate") files["index.js"] = ISOLATE_ENTRY;
  else {
    files.Dockerfile = dockerfileFor(containerImage(name));
    files["main.py"] = CONTAINER_MAIN;
  }
  return files;
}

function manifestFor(name: string, runtime: ScaffoldRuntime, schemaRef: string): Record<string, unknown> {
  const code =
    runtime === "isolate"
      ? { entry: "index.js" }
      : { image: containerImage(name), command: ["python3", "/app/main.py"] };
  return {
    $schema: schemaRef,
    name,
    version: "0.1.0",
    title: name.replace(/_/g, " "),
    description: "Describe what this tool does; the model reads this to decide when to call it.",
    runtime,
    ...code,
    effect: "read",
    inputSchema: {
      type: "object",
      properties: { text: { type: "string", maxLength: 10000, description: "Text to process" } },
      required: ["text"],
      additionalProperties: false,
    },
    outputSchema: {
      type: "object",
      properties: { length: { type: "integer", minimum: 0 }, upper: { type: "string" } },
      required: ["length", "upper"],
      additionalProperties: false,
    },
    limits: { timeoutMs: 5000, memoryMb: 64 },
  };
}

// Docker repository components allow single "_" only; "-" is always safe.
const containerImage = (name: string): string => `warden-tools/${name.replace(/_+/g, "-")}:1`;

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

const ISOLATE_ENTRY = `// Runs in a V8 isolate (SPEC §3): an ES module, no Node built-ins, no require/process,
// imports of relative files inside this folder only. ctx is the tool's whole world.

/**
 * @param {{ text: string }} input  validated against inputSchema before this runs
 * @param {import("mcp-warden/tool").ToolContext} ctx
 * @returns {Promise<{ length: number, upper: string }>}  validated against outputSchema
 */
export default async function run(input, ctx) {
  ctx.log("info", \`processing \${input.text.length} characters\`);
  ctx.progress(1, 1);
  return { length: input.text.length, upper: input.text.toUpperCase() };
}
`;

const dockerfileFor = (image: string): string => `# warden-image: ${image}
# Built locally by \`warden images build\` (this line names the tag: the manifest's image); never pulled at call time (SPEC §4).
FROM warden/base:1
COPY main.py /app/main.py
# Runs as nobody with a read-only root filesystem; write only to /tmp.
USER 65534:65534
CMD ["python3", "/app/main.py"]
`;

const CONTAINER_MAIN = `"""Container tool (SPEC §4): one JSON line on stdin, one JSON object on stdout.

stdin:  {"tool": name, "callId": id, "input": {...}}
stdout: {"output": {...}}  or  {"error": {"message": "..."}}
stderr: log lines.
"""
import json
import sys


def run(tool_input):
    text = tool_input["text"]
    print(f"processing {len(text)} characters", file=sys.stderr)
    return {"length": len(text), "upper": text.upper()}


def main():
    try:
        request = json.loads(sys.stdin.readline())
        result = {"output": run(request["input"])}
    except Exception as exc:  # report every failure as a tool error, never a traceback on stdout
        result = {"error": {"message": str(exc)}}
    sys.stdout.write(json.dumps(result) + "\\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
`;

/**
 * A community MCP server package, pinned (SPEC §15): `warden init <name>
 * --runtime mcp-server --npm <pkg>[@version] | --pypi <pkg>[==version]`.
 * Names and versions are checked against these patterns before they reach a
 * Dockerfile, package.json or requirements.txt: a "version" like
 * `1.0.0\nRUN curl … | sh` must not become a build step.
 */
export interface PinnedPackage {
  registry: "npm" | "pypi";
  name: string;
  /** Exact version (npm: semver; PyPI: a PEP 440 release). */
  version: string;
  /** npm: the server's executable, relative to the package folder (from its `bin`). */
  bin?: string;
  /** npm: package-lock.json pinning every dependency with its integrity hash. */
  lock?: string;
}

export const NPM_PACKAGE = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
export const NPM_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
export const PYPI_PACKAGE = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$/;
export const PYPI_VERSION = /^\d+(?:\.\d+)*(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?$/;
/** A path inside the package: no "..", no absolute path, only plain characters (it lands in a JSON array). */
const PACKAGE_PATH = /^(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._@/-]{1,255}$/;

/** Files of an mcp-server tool folder; the manifest starts from the safest defaults the operator then lowers. */
export function scaffoldMcpServerFiles(name: string, pkg: PinnedPackage, schemaRef: string): Record<string, string> {
  checkPinned(pkg);
  const image = containerImage(name);
  const command =
    pkg.registry === "npm"
      ? ["node", `/app/node_modules/${pkg.name}/${(pkg.bin ?? "index.js").replace(/^\.\//, "")}`]
      : ["python3", "-m", pkg.name.toLowerCase().replace(/[-.]+/g, "_")];
  const manifest = {
    $schema: schemaRef,
    name,
    version: "0.1.0",
    title: `${pkg.name} (MCP server)`,
    description: `The ${pkg.registry} package ${pkg.name} ${pkg.version}, an unmodified MCP server hosted in a least-privilege container. Review its tools with \`warden approve ${name}\` before use.`,
    runtime: "mcp-server",
    image,
    command,
    lifecycle: "session",
    toolPrefix: `${name}_`,
    // Every tool of an unknown server counts as destructive (confirmation, kill switch class) until the
    // operator, having read `warden approve`, lowers named tools here: e.g. "effects": {"read_file": "read"}.
    effect: "destructive",
    effects: {},
    // No capabilities: no network, no volumes, no secrets until the operator adds them knowingly.
    limits: { timeoutMs: 30000, memoryMb: 256, outputBytes: 1048576, cpus: 1, pids: 64 },
  };
  const files: Record<string, string> = { "manifest.json": json(manifest), Dockerfile: mcpServerDockerfile(image, pkg, command) };
  if (pkg.registry === "npm") {
    files["package.json"] = npmPackageJson(name, pkg.name, pkg.version);
    if (pkg.lock !== undefined) files["package-lock.json"] = pkg.lock.endsWith("\n") ? pkg.lock : `${pkg.lock}\n`;
  } else files["requirements.txt"] = `${pkg.name}==${pkg.version}\n`;
  return files;
}

/** The tool folder's package.json: the one dependency, exact; package-lock.json is generated from this very text. */
export function npmPackageJson(toolName: string, pkg: string, version: string): string {
  return json({ name: `warden-tool-${toolName.replace(/_+/g, "-")}`, version: "0.0.0", private: true, dependencies: { [pkg]: version } });
}

function checkPinned(pkg: PinnedPackage): void {
  const [nameRe, versionRe] = pkg.registry === "npm" ? [NPM_PACKAGE, NPM_VERSION] : [PYPI_PACKAGE, PYPI_VERSION];
  if (!nameRe.test(pkg.name)) throw new Error(`"${pkg.name}" is not a valid ${pkg.registry} package name`);
  if (!versionRe.test(pkg.version)) throw new Error(`"${pkg.version}" is not an exact ${pkg.registry} version`);
  if (pkg.bin !== undefined && !PACKAGE_PATH.test(pkg.bin.replace(/^\.\//, ""))) throw new Error(`"${pkg.bin}" is not a plain path inside the package`);
}

function mcpServerDockerfile(image: string, pkg: PinnedPackage, command: string[]): string {
  const head = `# warden-image: ${image}
# warden-stage: ${pkg.registry}
# ${pkg.name} ${pkg.version}, hosted unmodified (SPEC §15). Built locally by \`warden images build\`, which first
# stages the package on the host into stage/ (images/stage.sh); nothing is fetched inside the build or at call time.
`;
  const body =
    pkg.registry === "npm"
      ? `FROM warden/node:1
# Every package at the version package-lock.json pins (npm ci --omit=dev --ignore-scripts).
# Root-owned: the server (uid 65534) cannot modify its own code.
COPY stage/node_modules /app/node_modules
`
      : `FROM warden/base:1
# requirements.txt pins ${pkg.name}==${pkg.version}; its wheels were installed on the host with pip --target.
# Root-owned: the server (uid 65534) cannot modify its own code.
COPY stage/python /app/python
ENV PYTHONPATH=/app/python
`;
  return `${head}${body}USER 65534:65534
CMD ${JSON.stringify(command)}
`;
}
