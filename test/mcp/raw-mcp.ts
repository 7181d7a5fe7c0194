import { request, type IncomingMessage } from "node:http";

/** A hand-driven MCP client over raw HTTP: what a hostile (or minimal) peer sends, nothing the SDK adds. */
export const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" };

export interface RawResponse {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

export function rawPost(url: string, token: string, body: unknown, sessionId?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, ...(sessionId ? { "mcp-session-id": sessionId } : {}) } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += String(d)));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(typeof body === "string" ? body : JSON.stringify(body));
  });
}

/** JSON-RPC messages of a response, whether it came as JSON or as an SSE stream. */
export function messagesOf(r: RawResponse): Array<Record<string, any>> {
  if (!r.body.trim()) return [];
  if (String(r.headers["content-type"]).includes("text/event-stream")) return sseMessages(r.body);
  const parsed = JSON.parse(r.body);
  return Array.isArray(parsed) ? parsed : [parsed];
}

function sseMessages(text: string): Array<Record<string, any>> {
  return text
    .split(/\n\n/)
    .flatMap((event) => event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()))
    .filter((d) => d.length > 0)
    .map((d) => JSON.parse(d) as Record<string, any>);
}

/** initialize + initialized; returns the session id. No GET stream is ever opened. */
export async function rawSession(url: string, token: string, capabilities: Record<string, unknown> = {}): Promise<string> {
  const init = await rawPost(url, token, { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities, clientInfo: { name: "raw", version: "1" } } });
  const sessionId = init.headers["mcp-session-id"];
  if (init.status !== 200 || typeof sessionId !== "string") throw new Error(`initialize failed: ${init.status} ${init.body}`);
  await rawPost(url, token, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionId);
  return sessionId;
}

/**
 * POSTs one request and hands every message of its SSE stream to `onMessage`
 * as it arrives (the stream stays open while the call runs); resolves with
 * the response to the request.
 */
export function rawStream(url: string, token: string, sessionId: string, message: Record<string, unknown>, onMessage: (m: Record<string, any>) => void): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, "mcp-session-id": sessionId } }, (res) => {
      let buffer = "";
      res.on("data", (d) => {
        buffer += String(d);
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const m of sseMessages(event + "\n\n")) {
            if (m.id === message.id && ("result" in m || "error" in m)) resolve(m);
            else onMessage(m);
          }
        }
      });
      res.on("end", () => reject(new Error(`stream ended without a response (status ${res.statusCode})`)));
    });
    req.on("error", reject);
    req.end(JSON.stringify(message));
  });
}
