/**
 * The mutations of scripts/mutate.ts: each removes or weakens one guard. `edits` are exact texts of the
 * source (each must occur exactly once) and their replacements; `tests` the test files (under test/) that
 * must fail. When a source line changes, its mutation reports "stale": update the text here.
 */
export interface Mutation {
  id: string;
  what: string;
  file: string;
  edits: Array<[from: string, to: string]>;
  tests: string[];
}

const BROKER = "src/broker/broker.ts";
const BROKER_TESTS = ["test/broker/broker.test.ts", "test/broker/audit-failure.test.ts", "test/mcp/session.test.ts"];
const SPEC = "sandboxes/docker/container-spec.ts";
const SPEC_TESTS = ["test/sandboxes/docker/container-spec.test.ts"];
const ADDR = "src/capabilities/network/address-policy.ts";
const ADDR_TESTS = ["test/capabilities/network/address-policy.test.ts"];
const PATH = "src/capabilities/filesystem/resolve-in-volume.ts";
const PATH_TESTS = ["test/capabilities/filesystem/confinement.test.ts", "test/capabilities/filesystem/operations.test.ts", "test/capabilities/filesystem/access.test.ts"];
const GUARD = "src/mcp/http-guard.ts";
const HTTP = "src/mcp/http.ts";
const HTTP_TESTS = ["test/mcp/http-guards.test.ts"];

const never = (condition: string, rest = ""): [string, string] => [`if (${condition})${rest}`, `if (false)${rest}`];

export const MUTATIONS: Mutation[] = [
  // --- broker pipeline ---
  // The re-admission after confirmation is repeated after the wait for a slot (#18.1), which every call passes
  // next: removing only the first is an equivalent mutant. Removed together they must fail; the slot one alone too.
  {
    id: "broker.readmit-after-waits",
    what: "re-admission after confirmation and after the wait for a slot",
    file: BROKER,
    edits: [
      ["return await this.execute(this.admit(tool, ctx), input", "return await this.execute(tool, input"],
      ["      tool = this.admit(tool, ctx);\n", ""],
    ],
    tests: BROKER_TESTS,
  },
  { id: "broker.readmit-after-slot", what: "re-admission after the wait for a slot", file: BROKER, edits: [["      tool = this.admit(tool, ctx);\n", ""]], tests: BROKER_TESTS },
  { id: "broker.admit-before-input", what: "admission before input validation", file: BROKER, edits: [["    this.admit(tool, ctx);\n    const inputCheck", "    const inputCheck"]], tests: BROKER_TESTS },
  { id: "broker.kill-switch", what: "kill switch", file: BROKER, edits: [never("this.isDisabled(current)")], tests: BROKER_TESTS },
  { id: "broker.quarantine", what: "per-actor quarantine", file: BROKER, edits: [never("this.isQuarantinedFor(current, ctx.actor)")], tests: BROKER_TESTS },
  { id: "broker.approval", what: "approval of the current digest", file: BROKER, edits: [never("!this.isApprovedNow(current)")], tests: BROKER_TESTS },
  { id: "broker.digest-changed", what: "files changed while the call waited", file: BROKER, edits: [["if (!current || current.sandbox.digest !== tool.sandbox.digest || current.server?.sha256 !== tool.server?.sha256)", "if (!current)"]], tests: BROKER_TESTS },
  { id: "broker.scope-at-call", what: "scope before anything else", file: BROKER, edits: [['      if (!isAllowedFor(tool, currentAllow(ctx.allow))) throw unknownToolError(name, "E_FORBIDDEN");\n', ""]], tests: BROKER_TESTS },
  {
    id: "broker.scope-at-admit",
    what: "scope re-read at every admission",
    file: BROKER,
    edits: [
      ['    if (!isAllowedFor(tool, currentAllow(ctx.allow))) throw unknownToolError(tool.name, "E_FORBIDDEN");\n    const current', "    const current"],
      ['    if (!isAllowedFor(current, currentAllow(ctx.allow))) throw unknownToolError(current.name, "E_FORBIDDEN");\n', ""],
    ],
    tests: BROKER_TESTS,
  },
  { id: "broker.input-shape", what: "bounded input shape", file: BROKER, edits: [['      if (!shaped.ok) throw new WardenError("E_INPUT_INVALID"', '      if (false) throw new WardenError("E_INPUT_INVALID"']], tests: BROKER_TESTS },
  { id: "broker.input-schema", what: "inputSchema check", file: BROKER, edits: [never("!inputCheck.ok")], tests: BROKER_TESTS },
  { id: "broker.confirm", what: "confirmation of confirm-listed effects", file: BROKER, edits: [never("this.config.confirm.includes(tool.effect)")], tests: BROKER_TESTS },
  { id: "broker.confirm-declined", what: "a declined confirmation", file: BROKER, edits: [never("!answer.accepted")], tests: BROKER_TESTS },
  { id: "broker.confirm-no-client", what: "no elicitation ⇒ not confirmed", file: BROKER, edits: [never("!ctx.confirm")], tests: BROKER_TESTS },
  { id: "broker.output-schema", what: "outputSchema check", file: BROKER, edits: [never("!check.ok")], tests: BROKER_TESTS },
  { id: "broker.redact-output", what: "secret redaction of the output", file: BROKER, edits: [["const { value: output, redacted } = redactSecretValues(raw, this.registry.allSecretValues);", "const { value: output, redacted } = { value: raw, redacted: false };"]], tests: BROKER_TESTS },
  { id: "broker.redact-error", what: "secret redaction of error messages", file: BROKER, edits: [["message: redactText(e.message, this.registry.allSecretValues) }", "message: e.message }"]], tests: BROKER_TESTS },
  { id: "broker.redact-record", what: "secret redaction of the audit record", file: BROKER, edits: [["return redactSecretValues(entry, this.registry.allSecretValues).value;", "return entry;"]], tests: BROKER_TESTS },
  { id: "broker.redact-input", what: "redaction of input keys in the record", file: BROKER, edits: [["return redactSecretValues(redactKeys(input, this.config.audit.redact), this.registry.allSecretValues).value;", "return input;"]], tests: BROKER_TESTS },
  { id: "broker.audit-before-answer", what: "the answer waits for the durable audit record", file: BROKER, edits: [["await this.options.audit.append(this.redactRecord(entry));", "void this.options.audit.append(this.redactRecord(entry)).catch(() => {});"]], tests: BROKER_TESTS },
  { id: "broker.audit-fail-closed", what: "refuse every call after an audit failure", file: BROKER, edits: [["    if (this.auditFailure) return { ok: false, callId, error: this.auditFailure.toPayload() };\n    const started", "    const started"]], tests: BROKER_TESTS },
  { id: "broker.denial-mapping", what: "a failure after a denial is the denial", file: BROKER, edits: [never('outcome.error.code === "E_TOOL_FAILED" && denial')], tests: BROKER_TESTS },
  { id: "broker.network-on-request", what: "the effective network grants travel with the call", file: BROKER, edits: [["        network: tool.capabilities.network,\n", ""]], tests: BROKER_TESTS },
  { id: "host.record-egress", what: "egress the backend saw joins the call's audit record", file: "src/broker/tool-host.ts", edits: [["    recordEgress(record) {\n      recordEgress(record);\n    },", "    recordEgress() {},"]], tests: BROKER_TESTS },
  // --- shared outcome ---
  { id: "outcome.output-bound", what: "the output bound of every backend", file: "sandboxes/outcome/index.ts", edits: [never("bytes > limit")], tests: ["test/sandboxes/outcome/outcome.test.ts"] },
  { id: "outcome.abort-reason", what: "a stopper's own code (E_DISABLED, E_TIMEOUT) survives the abort", file: "src/errors.ts", edits: [["  if (reason instanceof WardenError) return reason.toPayload();\n  const code = (reason", "  const code = (reason"], never("isErrorCode(code)")], tests: ["test/sandboxes/outcome/outcome.test.ts"] },
  // --- container spec ---
  { id: "spec.ulimits", what: "Ulimits nofile", file: SPEC, edits: [['      Ulimits: [{ Name: "nofile", Soft: 256, Hard: 256 }],\n', ""]], tests: SPEC_TESTS },
  { id: "spec.ipc-private", what: 'IpcMode "private"', file: SPEC, edits: [['      IpcMode: "private",\n', ""]], tests: SPEC_TESTS },
  { id: "spec.capdrop", what: "CapDrop ALL", file: SPEC, edits: [['CapDrop: ["ALL"],', "CapDrop: [],"]], tests: SPEC_TESTS },
  { id: "spec.readonly-rootfs", what: "read-only root filesystem", file: SPEC, edits: [["ReadonlyRootfs: true,", "ReadonlyRootfs: false,"]], tests: SPEC_TESTS },
  { id: "spec.pids-limit", what: "PidsLimit", file: SPEC, edits: [["      PidsLimit: limits.pids,\n", ""]], tests: SPEC_TESTS },
  { id: "spec.seccomp", what: "warden's seccomp profile", file: SPEC, edits: [['SecurityOpt: ["no-new-privileges:true", `seccomp=${SECCOMP_PROFILE_JSON}`],', 'SecurityOpt: ["no-new-privileges:true"],']], tests: SPEC_TESTS },
  { id: "spec.no-new-privileges", what: "no-new-privileges", file: SPEC, edits: [['SecurityOpt: ["no-new-privileges:true", `seccomp', "SecurityOpt: [`seccomp"]], tests: SPEC_TESTS },
  { id: "spec.memory-swap", what: "MemorySwap = Memory", file: SPEC, edits: [["      MemorySwap: memoryBytes,\n", ""]], tests: SPEC_TESTS },
  { id: "spec.network-none", what: 'NetworkMode "none" without egress', file: SPEC, edits: [['NetworkMode: input.egress ? input.egress.networkName : "none",', 'NetworkMode: input.egress ? input.egress.networkName : "bridge",']], tests: SPEC_TESTS },
  { id: "spec.user", what: "runs as nobody", file: SPEC, edits: [['User: "65534:65534",', 'User: "0:0",']], tests: SPEC_TESTS },
  { id: "spec.privileged", what: "Privileged false", file: SPEC, edits: [["      Privileged: false,\n", "      Privileged: true,\n"]], tests: SPEC_TESTS },
  { id: "spec.tmpfs-noexec", what: "noexec /tmp", file: SPEC, edits: [['const TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=16m";', 'const TMPFS_OPTIONS = "rw,nosuid,nodev,size=16m";']], tests: SPEC_TESTS },
  { id: "spec.volume-cover", what: "tmpfs over the image's VOLUME paths", file: SPEC, edits: [["if (!(path in tmpfs) && !bound.has(path)) tmpfs[path] = VOLUME_TMPFS_OPTIONS;", ""]], tests: SPEC_TESTS },
  { id: "spec.mount-readonly", what: "read volumes mounted read-only", file: SPEC, edits: [['ReadOnly: v.access !== "read-write",', "ReadOnly: false,"]], tests: SPEC_TESTS },
  { id: "spec.volume-name", what: "volume name check", file: SPEC, edits: [never("!VOLUME_NAME.test(v.volume)")], tests: SPEC_TESTS },
  { id: "spec.env-name", what: "env name check", file: SPEC, edits: [["!ENV_NAME.test(name) || PROXY_VARS.includes(name)", "PROXY_VARS.includes(name)"]], tests: SPEC_TESTS },
  { id: "spec.env-proxy", what: "secrets may not set proxy variables", file: SPEC, edits: [["!ENV_NAME.test(name) || PROXY_VARS.includes(name)", "!ENV_NAME.test(name)"]], tests: SPEC_TESTS },
  { id: "spec.log-none", what: "LogConfig none", file: SPEC, edits: [['LogConfig: { Type: "none", Config: {} },', 'LogConfig: { Type: "json-file", Config: {} },']], tests: SPEC_TESTS },
  { id: "spec.dns", what: "DNS points at nothing with egress", file: SPEC, edits: [['{ Dns: ["127.0.0.1"], DnsSearch: [], DnsOptions: ["timeout:1", "attempts:1"] }', "{}"]], tests: SPEC_TESTS },
  { id: "spec.gate", what: "the gate for one-shot tools", file: "sandboxes/container/container-executor.ts", edits: [["launch: gatedCommand,", 'launch: (argv) => ({ Entrypoint: argv, Cmd: [] }),']], tests: ["test/sandboxes/container/gate.test.ts"] },
  // --- address policy ---
  { id: "addr.metadata", what: "169.254.0.0/16 (cloud metadata)", file: ADDR, edits: [['  ["169.254.0.0/16", "link-local (cloud metadata)"],\n', ""]], tests: ADDR_TESTS },
  { id: "addr.loopback-v4", what: "127.0.0.0/8", file: ADDR, edits: [['  ["127.0.0.0/8", "loopback"],\n', ""]], tests: ADDR_TESTS },
  { id: "addr.private-10", what: "10.0.0.0/8", file: ADDR, edits: [['  ["10.0.0.0/8", "private"],\n', ""]], tests: ADDR_TESTS },
  { id: "addr.private-192", what: "192.168.0.0/16", file: ADDR, edits: [['  ["192.168.0.0/16", "private"],\n', ""]], tests: ADDR_TESTS },
  { id: "addr.unspecified-v4", what: "0.0.0.0/8", file: ADDR, edits: [['  ["0.0.0.0/8", "unspecified"],', ""]], tests: ADDR_TESTS },
  { id: "addr.cgnat", what: "100.64.0.0/10", file: ADDR, edits: [['  ["100.64.0.0/10", "CGNAT"],\n', ""]], tests: ADDR_TESTS },
  { id: "addr.loopback-v6", what: "::1", file: ADDR, edits: [['  ["::1/128", "loopback"],\n', ""]], tests: ADDR_TESTS },
  { id: "addr.ula", what: "fc00::/7", file: ADDR, edits: [['  ["fc00::/7", "unique-local"],\n', ""]], tests: ADDR_TESTS },
  { id: "addr.link-local-v6", what: "fe80::/10", file: ADDR, edits: [['  ["fe80::/10", "link-local"],\n', ""]], tests: ADDR_TESTS },
  { id: "addr.mapped", what: "IPv4-mapped IPv6 judged as IPv4", file: ADDR, edits: [never("addr.isIPv4MappedAddress()")], tests: ADDR_TESTS },
  { id: "addr.nat64", what: "NAT64 judged as IPv4", file: ADDR, edits: [never("addr.match(NAT64)")], tests: ADDR_TESTS },
  { id: "addr.compatible", what: "IPv4-compatible refused", file: ADDR, edits: [['return embedded.form === "IPv4-compatible" ? `reserved (IPv4-compatible ${embedded.v4.toString()})` : null;', "return null;"]], tests: ADDR_TESTS },
  { id: "addr.not-global", what: "IPv6 outside 2000::/3", file: ADDR, edits: [['  if (!addr.match(GLOBAL_UNICAST_V6)) return "reserved (not global unicast)";\n', ""]], tests: ADDR_TESTS },
  { id: "addr.own-v4", what: "the host's own IPv4 addresses", file: ADDR, edits: [['  return own.has(canonical(addr)) ? "this host\'s own address" : null;\n}', "  return null;\n}"]], tests: ADDR_TESTS },
  { id: "addr.own-any", what: "the host's own addresses (any family)", file: ADDR, edits: [['  return own.has(canonical(parsed)) ? "this host\'s own address" : null;', "  return null;"]], tests: ADDR_TESTS },
  { id: "addr.unparseable", what: "unparseable input refused", file: ADDR, edits: [['if (!parsed) return "not an IP address";', 'if (!parsed) return null;']], tests: ADDR_TESTS },
  // --- path rules ---
  { id: "path.dotdot-above-root", what: "`..` above the volume root", file: PATH, edits: [never("this.stack.length === 0", " throw symlinkEscapes(")], tests: PATH_TESTS },
  { id: "path.absolute-link-prefix", what: "absolute link target: `<root>/`, not `<root>-evil`", file: PATH, edits: [["if (link.startsWith(`${base}/`)) return link.slice(base.length + 1).split(\"/\");", "if (link.startsWith(base)) return link.slice(base.length + 1).split(\"/\");"]], tests: PATH_TESTS },
  { id: "path.absolute-link-outside", what: "absolute link target outside the root", file: PATH, edits: [["if (rest === null) throw symlinkEscapes(this.target.path, this.root.grant.volume);", "if (rest === null) { await this.restartAtRoot(); this.queue.unshift(...link.split(\"/\")); return; }"]], tests: PATH_TESTS },
  { id: "path.nofollow-enter", what: "O_NOFOLLOW when entering a directory", file: PATH, edits: [["      child = await open(at(this.dir, name), O_DIR_NOFOLLOW);\n    } catch (err) {\n      const code", "      child = await open(at(this.dir, name), 0o200000);\n    } catch (err) {\n      const code"]], tests: PATH_TESTS },
  { id: "path.follow-last", what: "a symlink as last component is walked, not handed over", file: PATH, edits: [never("stat?.isSymbolicLink()")], tests: PATH_TESTS },
  { id: "path.link-hops", what: "bound on symlink hops", file: PATH, edits: [never("++this.hops > MAX_LINK_HOPS")], tests: PATH_TESTS },
  // --- HTTP guards ---
  { id: "http.host", what: "Host header check (DNS rebinding)", file: HTTP, edits: [never("!hostAllowed(req, allowed)")], tests: HTTP_TESTS },
  { id: "http.host-guard", what: "hostAllowed compares against the allowed set", file: GUARD, edits: [["return typeof host === \"string\" && allowed.has(host.toLowerCase());", "return true;"]], tests: HTTP_TESTS },
  { id: "http.origin", what: "Origin check", file: HTTP, edits: [never("!originAllowed(req, http.allowedOrigins)")], tests: HTTP_TESTS },
  { id: "http.origin-guard", what: "originAllowed compares against the list", file: GUARD, edits: [["return allowedOrigins.includes(origin);", "return true;"]], tests: HTTP_TESTS },
  { id: "http.token", what: "the token must match", file: GUARD, edits: [["if (expected.length === digest.length && timingSafeEqual(expected, digest))", "if (expected.length === digest.length)"]], tests: HTTP_TESTS },
  { id: "http.token-bearer", what: "only a Bearer token", file: GUARD, edits: [["const match = /^Bearer\\s+(\\S+)\\s*$/i.exec(header);", "const match = /^(?:Bearer\\s+|)(\\S+)\\s*$/i.exec(header);"]], tests: HTTP_TESTS },
  { id: "http.body-declared", what: "declared body size over the limit", file: HTTP, edits: [['  if (declared > limit) return "too-large";\n', ""]], tests: HTTP_TESTS },
  { id: "http.body-streamed", what: "streamed body size over the limit", file: HTTP, edits: [['    if (size > limit) return "too-large";\n', ""]], tests: HTTP_TESTS },
  { id: "http.session-token", what: "a session belongs to its token", file: HTTP, edits: [never("session && session.tokenSha256 !== identity.tokenSha256")], tests: HTTP_TESTS },
];
