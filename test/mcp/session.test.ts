/**
 * One MCP session (src/mcp/session.ts) over linked in-memory transports, with a
 * real Broker and a fake executor: the same test body runs for a stdio-like
 * identity and an HTTP-token identity (describe.each style). The end-to-end
 * tests (stdio.test.ts, http.test.ts) keep covering the transports themselves.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { ElicitRequestSchema, ToolListChangedNotificationSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Broker } from "../../src/broker/index.js";
import { stdioIdentity, tokenIdentity, type Identity } from "../../src/mcp/identity.js";
import { createLogger } from "../../src/logger.js";
import { ERROR_META_KEY } from "../../src/mcp/render.js";
import { createMcpSession } from "../../src/mcp/session.js";
import { fakeBroker } from "../helpers/fake-broker.js";
import { isolateManifest, TEST_TOKEN_SHA } from "../helpers/workspace.js";

const READER_SHA = createHash("sha256").update("reader-token-0123456789").digest("hex");
const RUN = "export default async function run(i) { return { echo: i }; }\n";

const TOOLS = {
  echo: {
    manifest: isolateManifest("echo", {
      inputSchema: { type: "object", properties: { n: { type: "number" } }, additionalProperties: false },
      outputSchema: { type: "object", properties: { echo: { type: "object" } }, required: ["echo"] },
    }),
    files: { "index.js": RUN },
  },
  eraser: { manifest: isolateManifest("eraser", { effect: "destructive" }), files: { "index.js": RUN } },
};

interface IdentityCase {
  kind: string;
  actor: string;
  identity(broker: Broker): Identity;
  /** The same kind of identity, scoped to `read` tools only. */
  readOnly(broker: Broker): Identity;
}

const CASES: IdentityCase[] = [
  {
    kind: "stdio",
    actor: "stdio",
    identity: (broker) => stdioIdentity(broker),
    readOnly: (broker) => {
      broker.update({ config: { ...broker.currentConfig, stdio: { allow: ["read"] } } });
      return stdioIdentity(broker);
    },
  },
  {
    kind: "http token",
    actor: "ci",
    identity: (broker) => tokenIdentity(broker, "ci", TEST_TOKEN_SHA),
    readOnly: (broker) => tokenIdentity(broker, "reader", READER_SHA),
  },
];

async function open(broker: Broker, identity: Identity, capabilities: ConstructorParameters<typeof Client>[1] = {}) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = createMcpSession({ broker, identity, logger: createLogger({ level: "silent" }), version: "test" });
  await server.connect(serverSide);
  const client = new Client({ name: "session-test", version: "1" }, capabilities);
  await client.connect(clientSide);
  return { client, server, close: () => client.close() };
}

const setUp = () =>
  fakeBroker(TOOLS, {
    http: {
      listen: "127.0.0.1:0",
      tokens: [
        { name: "ci", sha256: TEST_TOKEN_SHA },
        { name: "reader", sha256: READER_SHA, allow: ["read"] },
      ],
    },
  });

for (const c of CASES) {
  describe(`MCP session over in-memory transports (${c.kind})`, () => {
    test("lists the approved tools with their schemas and annotations", async () => {
      const { broker } = await setUp();
      const s = await open(broker, c.identity(broker));
      try {
        const { tools } = await s.client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), ["echo", "eraser"]);
        const echo = tools.find((t) => t.name === "echo")!;
        assert.deepEqual(echo.inputSchema.properties, { n: { type: "number" } });
        assert.equal(echo.annotations?.readOnlyHint, true);
        assert.equal(tools.find((t) => t.name === "eraser")!.annotations?.destructiveHint, true);
      } finally {
        await s.close();
      }
    });

    test("a call runs once and answers structuredContent + its JSON text; audited with this identity", async () => {
      const { broker, executor, audit } = await setUp();
      const s = await open(broker, c.identity(broker));
      try {
        const r = (await s.client.callTool({ name: "echo", arguments: { n: 2 } })) as CallToolResult;
        assert.equal(r.isError, undefined);
        assert.deepEqual(r.structuredContent, { echo: { n: 2 } });
        assert.deepEqual(JSON.parse((r.content[0] as { text: string }).text), { echo: { n: 2 } });
        assert.equal(executor.requests.length, 1);
        assert.equal(audit.records.length, 1);
        assert.equal(audit.records[0]!.actor, c.actor);
        assert.equal(audit.records[0]!.outcome, "ok");
      } finally {
        await s.close();
      }
    });

    test("a failure is isError with the code in _meta and never structuredContent", async () => {
      const { broker, executor } = await setUp();
      executor.next = async () => ({ ok: false, error: { code: "E_TOOL_FAILED", message: "boom" } });
      const s = await open(broker, c.identity(broker));
      try {
        const r = (await s.client.callTool({ name: "echo", arguments: {} })) as CallToolResult;
        assert.equal(r.isError, true);
        assert.equal(r.structuredContent, undefined);
        assert.deepEqual(r._meta?.[ERROR_META_KEY], { code: "E_TOOL_FAILED", message: "boom" });
        assert.equal((r.content[0] as { text: string }).text, "E_TOOL_FAILED: boom");
        // Input that breaks the schema: refused by the broker, same shape, executor not called.
        const bad = (await s.client.callTool({ name: "echo", arguments: { n: "x" } })) as CallToolResult;
        assert.equal((bad._meta?.[ERROR_META_KEY] as { code: string } | undefined)?.code, "E_INPUT_INVALID");
        assert.equal(executor.requests.length, 1);
      } finally {
        await s.close();
      }
    });

    test("an unknown tool is a JSON-RPC error (-32602), audited", async () => {
      const { broker, audit } = await setUp();
      const s = await open(broker, c.identity(broker));
      try {
        await assert.rejects(s.client.callTool({ name: "nope", arguments: {} }), (e: Error & { code?: number }) => e.code === -32602 && /unknown tool/.test(e.message));
        assert.equal(audit.records.length, 1);
        assert.equal(audit.records[0]!.errorCode, "E_UNKNOWN_TOOL");
      } finally {
        await s.close();
      }
    });

    test("scope: a read-only identity neither lists nor calls a destructive tool (answered like an unknown one, audited E_FORBIDDEN)", async () => {
      const { broker, executor, audit } = await setUp();
      const s = await open(broker, c.readOnly(broker));
      try {
        assert.deepEqual((await s.client.listTools()).tools.map((t) => t.name), ["echo"]);
        await assert.rejects(s.client.callTool({ name: "eraser", arguments: {} }), (e: Error & { code?: number }) => e.code === -32602 && /unknown tool "eraser"/.test(e.message));
        assert.equal(audit.records[0]!.errorCode, "E_FORBIDDEN");
        assert.equal(executor.requests.length, 0);
      } finally {
        await s.close();
      }
    });

    test("confirmation: without elicitation a destructive call is not confirmed; with it, the human's yes runs it once", async () => {
      const { broker, executor } = await setUp();
      const plain = await open(broker, c.identity(broker));
      try {
        const r = (await plain.client.callTool({ name: "eraser", arguments: {} })) as CallToolResult;
        assert.equal((r._meta?.[ERROR_META_KEY] as { code: string } | undefined)?.code, "E_NOT_CONFIRMED");
        assert.equal(executor.requests.length, 0);
      } finally {
        await plain.close();
      }
      const asking = await open(broker, c.identity(broker), { capabilities: { elicitation: {} } });
      const prompts: string[] = [];
      asking.client.setRequestHandler(ElicitRequestSchema, async (req) => {
        prompts.push(req.params.message);
        return { action: "accept", content: { confirm: true } };
      });
      try {
        const r = (await asking.client.callTool({ name: "eraser", arguments: {} })) as CallToolResult;
        assert.equal(r.isError, undefined);
        assert.equal(prompts.length, 1);
        assert.match(prompts[0]!, /allow eraser \(destructive\)/);
        assert.equal(executor.requests.length, 1);
      } finally {
        await asking.close();
      }
    });

    test("list_changed: the kill switch notifies the session, and the list no longer shows the tool", async () => {
      const { broker } = await setUp();
      const s = await open(broker, c.identity(broker));
      try {
        await s.client.listTools();
        const changed = new Promise<void>((resolve) => s.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
        broker.update({ config: { ...broker.currentConfig, disabled: ["eraser"] } });
        await changed;
        assert.deepEqual((await s.client.listTools()).tools.map((t) => t.name), ["echo"]);
      } finally {
        await s.close();
      }
    });
  });
}
