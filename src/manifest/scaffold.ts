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
    files["Dockerfile"] = DOCKERFILE;
    files["main.py"] = CONTAINER_MAIN;
  }
  return files;
}

function manifestFor(name: string, runtime: ScaffoldRuntime, schemaRef: string): Record<string, unknown> {
  const code =
    runtime === "isolate"
      ? { entry: "index.js" }
      // Docker repository components allow single "_" only; "-" is always safe.
      : { image: `warden-tools/${name.replace(/_+/g, "-")}:1`, command: ["python3", "/app/main.py"] };
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

const DOCKERFILE = `# Built locally by \`warden images build\`; never pulled at call time (SPEC §4).
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
