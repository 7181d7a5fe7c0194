import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { LOCALHOST_CERT_PEM, LOCALHOST_KEY_PEM, TEST_CA_PEM } from "./tls-fixtures.js";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A real HTTP(S) server on a loopback address and an ephemeral port, counting every connection and request. */
export interface LoopbackServer {
  port: number;
  /** e.g. http://127.0.0.1:41234 or http://[::1]:41234 */
  origin: string;
  connections: number;
  requests: SeenRequest[];
  /** TLS only: the SNI names clients sent. */
  servernames: string[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void;

export const testCa = () => TEST_CA_PEM;

export async function startLoopbackServer(handler: Handler, options: { host?: "127.0.0.1" | "::1"; tls?: boolean } = {}): Promise<LoopbackServer> {
  const host = options.host ?? "127.0.0.1";
  const state = { connections: 0, requests: [] as SeenRequest[], servernames: [] as string[] };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      state.requests.push(seen);
      handler(req, res, seen);
    });
  };
  const server: Server = options.tls ? createTlsServer({ key: LOCALHOST_KEY_PEM, cert: LOCALHOST_CERT_PEM }, onRequest) : createServer(onRequest);
  server.on("connection", () => state.connections++);
  if (options.tls) server.on("secureConnection", (s: { servername?: string | false }) => state.servernames.push(String(s.servername)));
  server.listen(0, host);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const scheme = options.tls ? "https" : "http";
  return {
    port,
    origin: `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    get connections() {
      return state.connections;
    },
    requests: state.requests,
    servernames: state.servernames,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
