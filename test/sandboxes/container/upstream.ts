/**
 * An upstream HTTP server for the `container` egress mode tests: the proxy container cannot reach the
 * host's loopback, so the allowed target runs in a container (warden/base:1's python3) on the proxy's
 * outbound network, labelled with the test server's id (the reaper removes it with the rest).
 */
import type Dockerode from "dockerode";
import { serverLabels } from "../../../sandboxes/docker/labels.js";
import { waitFor } from "../../helpers/wait.js";

export interface Upstream {
  host: string;
  port: number;
  /** The body it answers a GET of `path` with. */
  saw(path: string): string;
  close(): Promise<void>;
}

const SERVER = `
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('upstream saw GET ' + self.path).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
s = http.server.ThreadingHTTPServer(('0.0.0.0', 8080), H)
print('ready', flush=True)
s.serve_forever()
`;

/** `alias`: a name the proxy container resolves (Docker's DNS on the outbound network), for grants written before the address exists. */
export async function startUpstream(docker: Dockerode, network: string, serverId: string, alias?: string): Promise<Upstream> {
  const container = await docker.createContainer({
    ...(alias ? { NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [alias] } } } } : {}),
    Image: "warden/base:1",
    Cmd: ["python3", "-c", SERVER],
    User: "65534:65534",
    Labels: { ...serverLabels(serverId), "warden.role": "test-upstream" },
    HostConfig: { NetworkMode: network, ReadonlyRootfs: true, CapDrop: ["ALL"], AutoRemove: false },
  });
  await container.start();
  const info = await container.inspect();
  const host = info.NetworkSettings.Networks[network]?.IPAddress;
  if (!host) throw new Error(`upstream container has no address on ${network}`);
  await waitFor(async () => (await container.logs({ stdout: true, stderr: true })).toString("latin1").includes("ready"), "the upstream server");
  return {
    host,
    port: 8080,
    saw: (path) => `upstream saw GET ${path}`,
    close: async () => {
      await container.remove({ force: true }).catch(() => {});
    },
  };
}
