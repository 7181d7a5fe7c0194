import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { validateToolDir } from "../../src/manifest/index.js";
import { isolateTool, toolDir, validManifest } from "./fixture.js";

type Change = (m: Record<string, any>) => void;

/** Each case breaks exactly one rule of SPEC §2; removing that rule makes its case fail. */
const CASES: { rule: string; change: Change; path: string; says: string }[] = [
  { rule: "name must be lower-case snake", change: (m) => (m.name = "FetchWeather"), path: "name", says: "^[a-z][a-z0-9_]{0,63}$" },
  { rule: "name must start with a letter", change: (m) => (m.name = "1tool"), path: "name", says: "starting with a letter" },
  { rule: "name is at most 64 characters", change: (m) => (m.name = "a".repeat(65)), path: "name", says: "fix:" },
  { rule: "version must be semver", change: (m) => (m.version = "1.2"), path: "version", says: "semver" },
  { rule: "description is required", change: (m) => delete m.description, path: "description", says: "missing; fix: add it" },
  { rule: "description is not empty", change: (m) => (m.description = ""), path: "description", says: "at least 1" },
  { rule: "title is at most 200 characters", change: (m) => (m.title = "t".repeat(201)), path: "title", says: "at most 200" },
  { rule: "owner is at most 200 characters", change: (m) => (m.owner = "o".repeat(201)), path: "owner", says: "at most 200" },
  { rule: "runtime is isolate or container", change: (m) => (m.runtime = "wasm"), path: "runtime", says: '"isolate", "container"' },
  { rule: "effect is read, write or destructive", change: (m) => (m.effect = "reed"), path: "effect", says: 'did you mean "read"?' },
  { rule: "effect is required", change: (m) => delete m.effect, path: "effect", says: "missing" },
  { rule: "an unknown top-level key is an error", change: (m) => (m.descripton = "x"), path: "descripton", says: 'unknown key "descripton"; fix: remove it; did you mean "description"?' },
  { rule: "an unknown capability is an error", change: (m) => (m.capabilities.netwrok = { allow: [] }), path: "capabilities.netwrok", says: 'did you mean "network"?' },
  { rule: "an unknown limit is an error", change: (m) => (m.limits.cpu = 2), path: "limits.cpu", says: 'did you mean "cpus"?' },
  { rule: "an unknown volume key is an error", change: (m) => (m.capabilities.filesystem[0].mode = "ro"), path: "capabilities.filesystem[0].mode", says: "unknown key" },
  { rule: "an unknown network key is an error", change: (m) => (m.capabilities.network.deny = []), path: "capabilities.network.deny", says: "unknown key" },
  { rule: "inputSchema is required", change: (m) => delete m.inputSchema, path: "inputSchema", says: "missing" },
  { rule: "inputSchema has type object at the top", change: (m) => (m.inputSchema = { type: "string" }), path: "inputSchema.type", says: "fix:" },
  { rule: "outputSchema has type object at the top", change: (m) => (m.outputSchema = { type: "array" }), path: "outputSchema.type", says: "fix:" },
  { rule: "inputSchema must be a valid JSON Schema", change: (m) => (m.inputSchema.properties.city.type = "strin"), path: "inputSchema", says: "not a valid JSON Schema" },
  { rule: "outputSchema must be a valid JSON Schema", change: (m) => (m.outputSchema.required = "tempC"), path: "outputSchema", says: "not a valid JSON Schema" },
  { rule: "a remote $ref is refused (never fetched)", change: (m) => (m.inputSchema.properties.city = { $ref: "https://evil.example/s.json" }), path: "inputSchema", says: "not a valid JSON Schema" },
  { rule: "an isolate tool needs an entry", change: (m) => delete m.entry, path: "entry", says: 'needs "entry"' },
  { rule: "an isolate tool has no image", change: (m) => (m.image = "x:1"), path: "image", says: "only for container tools" },
  { rule: "an isolate tool has no command", change: (m) => (m.command = ["node"]), path: "command", says: "only for container tools" },
  { rule: "entry may not climb out of the folder", change: (m) => (m.entry = "../outside.js"), path: "entry", says: "relative path inside the tool folder" },
  { rule: "entry may not be absolute", change: (m) => (m.entry = "/etc/passwd.js"), path: "entry", says: "relative path inside the tool folder" },
  { rule: "entry may not use backslashes", change: (m) => (m.entry = "lib\\index.js"), path: "entry", says: "relative path inside the tool folder" },
  { rule: "entry is an ES module file", change: (m) => (m.entry = "index.ts"), path: "entry", says: ".js or .mjs" },
  { rule: "the entry file exists", change: (m) => (m.entry = "main.js"), path: "entry", says: "does not exist" },
  { rule: "a container tool needs an image", change: (m) => { m.runtime = "container"; delete m.entry; }, path: "image", says: 'needs "image"' },
  { rule: "a container tool has no entry", change: (m) => { m.runtime = "container"; m.image = "warden-tools/x:1"; }, path: "entry", says: "only for isolate tools" },
  { rule: "a container image is a valid reference", change: (m) => { m.runtime = "container"; delete m.entry; m.image = "Bad Image!"; }, path: "image", says: "not a valid image reference" },
  { rule: "a read-write volume needs effect at least write", change: (m) => (m.capabilities.filesystem[0].access = "read-write"), path: "effect", says: 'cannot claim effect "read"' },
  { rule: "a volume is listed once", change: (m) => m.capabilities.filesystem.push({ volume: "workspace", access: "read" }), path: "capabilities.filesystem[1].volume", says: "listed twice" },
  { rule: "volume names are lower-case", change: (m) => (m.capabilities.filesystem[0].volume = "Work Space"), path: "capabilities.filesystem[0].volume", says: "lower-case" },
  { rule: "volume access is read or read-write", change: (m) => (m.capabilities.filesystem[0].access = "write"), path: "capabilities.filesystem[0].access", says: '"read", "read-write"' },
  { rule: "secret names are UPPER_SNAKE_CASE", change: (m) => (m.capabilities.env = ["weather_key"]), path: "capabilities.env[0]", says: "UPPER_SNAKE_CASE" },
  { rule: "network patterns have no CIDR", change: (m) => (m.capabilities.network.allow = ["10.0.0.0/8"]), path: "capabilities.network.allow[0]", says: "paths and CIDR ranges are not supported; fix: write only the host" },
  { rule: "network patterns have no paths", change: (m) => (m.capabilities.network.allow = ["api.example.com/v1"]), path: "capabilities.network.allow[0]", says: "path" },
  { rule: "a lone * is refused", change: (m) => (m.capabilities.network.allow = ["*"]), path: "capabilities.network.allow[0]", says: "every host" },
  { rule: "*.tld is refused", change: (m) => (m.capabilities.network.allow = ["*.com"]), path: "capabilities.network.allow[0]", says: "top-level domain" },
  { rule: "a wildcard only leads", change: (m) => (m.capabilities.network.allow = ["api.*.example.com"]), path: "capabilities.network.allow[0]", says: "whole leftmost label" },
  { rule: "only http and https schemes", change: (m) => (m.capabilities.network.allow = ["ftp://files.example.com"]), path: "capabilities.network.allow[0]", says: 'scheme "ftp" is not allowed; fix: use "https://"' },
  { rule: "ports are 1-65535", change: (m) => (m.capabilities.network.allow = ["api.example.com:70000"]), path: "capabilities.network.allow[0]", says: "not a number from 1 to 65535" },
  { rule: "ports are numbers", change: (m) => (m.capabilities.network.allow = ["api.example.com:http"]), path: "capabilities.network.allow[0]", says: 'port "http" is not a number' },
  { rule: "hosts are DNS names", change: (m) => (m.capabilities.network.allow = ["bad!host.example.com"]), path: "capabilities.network.allow[0]", says: "not a valid DNS name" },
  { rule: "IPv6 literals are valid", change: (m) => (m.capabilities.network.allow = ["[fe80::zz]"]), path: "capabilities.network.allow[0]", says: "not an IPv6 address" },
  { rule: "IPv4 literals are valid", change: (m) => (m.capabilities.network.allow = ["300.1.2.3"]), path: "capabilities.network.allow[0]", says: "ambiguous IPv4 spelling" },
  { rule: "IPv6 needs brackets", change: (m) => (m.capabilities.network.allow = ["2001:db8::1"]), path: "capabilities.network.allow[0]", says: "must be written in brackets" },
  { rule: "userinfo is refused", change: (m) => (m.capabilities.network.allow = ["user@api.example.com"]), path: "capabilities.network.allow[0]", says: "userinfo" },
  { rule: "an empty pattern is refused", change: (m) => (m.capabilities.network.allow = [""]), path: "capabilities.network.allow[0]", says: "empty pattern" },
  { rule: "at most 64 network patterns", change: (m) => (m.capabilities.network.allow = Array.from({ length: 65 }, (_, i) => `h${i}.example.com`)), path: "capabilities.network.allow", says: "at most 64" },
  { rule: "timeoutMs is at most 300000", change: (m) => (m.limits.timeoutMs = 300_001), path: "limits.timeoutMs", says: "at most 300000" },
  { rule: "memoryMb is at most 4096", change: (m) => (m.limits.memoryMb = 4097), path: "limits.memoryMb", says: "at most 4096" },
  { rule: "outputBytes is at most 16 MiB", change: (m) => (m.limits.outputBytes = 16 * 1024 * 1024 + 1), path: "limits.outputBytes", says: "at most 16777216" },
  { rule: "timeoutMs is an integer", change: (m) => (m.limits.timeoutMs = 1.5), path: "limits.timeoutMs", says: "an integer" },
  { rule: "limits are numbers", change: (m) => (m.limits.memoryMb = "64"), path: "limits.memoryMb", says: "expected a number, got string" },
];

describe("manifest rules (SPEC §2)", () => {
  test("the SPEC §2 example manifest is valid", async () => {
    const { tool, problems } = await validateToolDir(await isolateTool());
    assert.deepEqual(problems, []);
    assert.equal(tool?.manifest.name, "fetch_weather");
  });

  for (const c of CASES) {
    test(`${c.rule}`, async () => {
      const { tool, problems } = await validateToolDir(await isolateTool(c.change));
      assert.equal(tool, null);
      const hit = problems.find((p) => p.path === c.path && p.message.includes(c.says));
      assert.ok(hit, `expected a problem at "${c.path}" saying "${c.says}", got:\n${JSON.stringify(problems, null, 2)}`);
      assert.match(hit.message, /; fix: /, "every problem says how to fix it");
    });
  }

  test("valid network patterns of every form are accepted", async () => {
    const allow = ["api.example.com", "*.example.org", "files.example.net:8443", "http://legacy.example.com:8080", "https://x.example.com", "203.0.113.7", "[2001:db8::1]:8443"];
    const { problems } = await validateToolDir(await isolateTool((m) => (m.capabilities.network.allow = allow)));
    assert.deepEqual(problems, []);
  });

  test("a container tool with image and command is valid", async () => {
    const manifest = { ...validManifest(), runtime: "container", image: "warden-tools/fetch-weather:1", command: ["python3", "/app/main.py"] };
    delete (manifest as Record<string, unknown>).entry;
    const { tool, problems } = await validateToolDir(await toolDir({ "manifest.json": manifest }));
    assert.deepEqual(problems, []);
    assert.equal(tool?.entrySource, undefined);
  });

  test("every problem is listed at once, cross-field rules included", async () => {
    const dir = await isolateTool((m) => {
      m.name = "Bad";
      m.effect = "read";
      m.capabilities.filesystem[0].access = "read-write";
      m.limits.memoryMb = 1e6;
      delete m.entry;
    });
    const { problems } = await validateToolDir(dir);
    const paths = problems.map((p) => p.path).sort();
    assert.deepEqual(paths, ["effect", "entry", "limits.memoryMb", "name"]);
  });
});
