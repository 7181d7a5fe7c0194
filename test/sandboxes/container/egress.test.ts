/**
 * Egress of networked container tools (SPEC §4, §5), proven from inside a
 * real container on warden's internal network: the only way out is the
 * egress proxy, which applies the same authorizeEgress rule as ctx.fetch.
 *
 * Every target here is on this machine: a host service listening on ALL
 * interfaces (0.0.0.0), reached — or not — through the host's own addresses.
 *
 * The suite runs once per egress mode (config `container.egress`, issue 13 §2):
 * `host` (the proxy in warden's process) and `container` (warden/egress:1 beside
 * the tools). In `container` mode the allowed upstream is a tiny server in a
 * container on the proxy's outbound network: the host's loopback is not the
 * proxy container's.
 */
import assert from "node:assert/strict";
import Dockerode from "dockerode";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { connect as connectTcp, createServer as createTcpServer } from "node:net";
import { networkInterfaces } from "node:os";
import { after, before, describe, test } from "node:test";
import { createContainerExecutor } from "../../../sandboxes/container/index.js";
import { egressProxyName } from "../../../sandboxes/docker/egress-container.js";
import { EgressGateway, type EgressMode } from "../../../sandboxes/docker/egress-gateway.js";
import { egressNetworkName, outboundNetworkName } from "../../../sandboxes/docker/egress-network.js";
import type { ContainerSandboxTool, Executor } from "../../../sandboxes/executor.js";
import type { EgressRecord, NetworkGrant } from "../../../src/capabilities/types.js";
import { waitFor } from "../../helpers/wait.js";
import { assertCode, call, containerBackendAvailable, docker, fixtureTool, probe, requireDocker, TEST_RUNTIME, withBrokerPolicy } from "./fixture.js";
import { startUpstream, type Upstream } from "./upstream.js";

const HTTP_GET = `
import urllib.request, urllib.error
def get(url):
    try:
        r = urllib.request.urlopen(url, timeout=5)
        return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode()]
    except Exception as e:
        return ['error', str(e)]
`;

const TUNNEL_GET = `
import http.client, urllib.parse
def tunnel_get(host, port):
    p = urllib.parse.urlparse(os.environ['HTTP_PROXY'])
    c = http.client.HTTPConnection(p.hostname, p.port, timeout=5)
    c.set_tunnel(host, port)
    try:
        c.request('GET', '/through-tunnel')
        r = c.getresponse()
        return [r.status, r.read().decode()]
    except OSError as e:
        return ['error', str(e)]
`;

/** This host's own IPv4 addresses (docker0, bridges, the host's interface), loopback excluded. */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === "IPv4" && !i.internal)
    .map((i) => i!.address);
}

/** WARDEN_TEST_EGRESS=host|container runs one mode only; default both. */
const MODES: EgressMode[] = process.env.WARDEN_TEST_EGRESS ? [process.env.WARDEN_TEST_EGRESS as EgressMode] : ["host", "container"];

for (const mode of MODES) describe(`egress of networked container tools (${mode} proxy)`, () => {
  const serverId = `egress${mode[0]}${process.pid}`;
  const grants = new Map<string, NetworkGrant[]>();
  const records: Array<{ callId: string; record: EgressRecord }> = [];
  let executor: Executor;
  let gateway: EgressGateway;
  /** The upstream an allowPrivate grant may reach: the host service (host mode) or a container on the outbound network. */
  let upstream: Upstream;
  let hostService: Server;
  let hostPort = 0;
  let hostHits = 0;

  const netTool = (name: string, toolGrants: NetworkGrant[]): ContainerSandboxTool => {
    grants.set(name, toolGrants);
    return fixtureTool("probe", { name, network: true });
  };

  before(async () => {
    hostService = createServer((req, res) => {
      hostHits += 1;
      res.end(`host service saw ${req.method} ${req.url}`);
    });
    await new Promise<void>((resolve) => hostService.listen(0, "0.0.0.0", resolve));
    hostPort = (hostService.address() as { port: number }).port;
    gateway = new EgressGateway({ docker, serverId, mode });
    executor = withBrokerPolicy(
      createContainerExecutor({ docker, egress: gateway, runtime: TEST_RUNTIME, serverId, poolSize: 0, reapIntervalMs: 0 }),
      (tool) => grants.get(tool.name) ?? [],
      (callId, record) => void records.push({ callId, record }),
    );
  });

  before(async () => {
    if ((await containerBackendAvailable()) !== true) return;
    await gateway.ready();
    upstream =
      mode === "host"
        ? { host: "127.0.0.1", port: hostPort, saw: (path) => `host service saw GET ${path}`, close: async () => {} }
        : await startUpstream(docker, outboundNetworkName(serverId), serverId);
  });

  after(async () => {
    await executor.close();
    await upstream?.close();
    await gateway.close();
    hostService.closeAllConnections();
    await new Promise<void>((resolve) => hostService.close(() => resolve()));
  });

  test("no resolver answers inside a networked container: no PTR names of containers or of warden's network", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = (await probe(
      executor,
      `
import socket, struct
# Our own address (/etc/hosts maps the hostname to it); the resolver names every container the same way.
ip = socket.gethostbyname(socket.gethostname())
def raw(proto):
    q = b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00' + b''.join(bytes([len(p)]) + p.encode() for p in reversed(ip.split('.'))) + b'\\x07in-addr\\x04arpa\\x00\\x00\\x0c\\x00\\x01'
    try:
        if proto == 'udp':
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.sendto(q, ('127.0.0.11', 53)); data = s.recv(512)
        else:
            s = socket.create_connection(('127.0.0.11', 53), timeout=2); s.sendall(struct.pack('>H', len(q)) + q); data = s.recv(512)
        return 'answered %d bytes' % len(data)
    except OSError as e:
        return 'no answer'
result = {'udp': raw('udp'), 'tcp': raw('tcp')}`,
      netTool("net_dns", []),
    )) as { udp: string; tcp: string };
    // Without the rule the embedded DNS answers "<short id>.warden-egress-<serverId>" over both.
    assert.equal(result.udp, "no answer");
    assert.equal(result.tcp, "no answer");
  });

  test("direct TCP to the host's addresses fails; only the proxy port on the gateway answers", async (t) => {
    if (!(await requireDocker(t))) return;
    const targets = hostAddresses();
    assert.ok(targets.includes("172.17.0.1") || targets.length > 0, "the host has addresses to probe");
    const result = (await probe(
      executor,
      `
import socket, errno, urllib.parse
proxy = urllib.parse.urlparse(os.environ['HTTP_PROXY'])
def reach(addr, port):
    try:
        socket.create_connection((addr, port), timeout=3).close(); return 'connected'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e)) if e.errno else 'timeout'
result = {'gateway': proxy.hostname,
          'hostService': {a: reach(a, input['port']) for a in input['targets'] + [proxy.hostname]},
          'proxy': reach(proxy.hostname, proxy.port)}`,
      netTool("net_reach", []),
      { input: { targets, port: hostPort } },
    )) as { gateway: string; hostService: Record<string, string>; proxy: string };
    assert.equal(result.proxy, "connected", "the egress proxy is reachable on the gateway");
    for (const [address, outcome] of Object.entries(result.hostService))
      assert.notEqual(outcome, "connected", `host service on 0.0.0.0 reached through ${address}`);
    assert.ok(Object.keys(result.hostService).includes(result.gateway));
    assert.equal(hostHits, 0);
  });

  test("direct TCP to the cloud metadata address and to public addresses goes nowhere: only the proxy leads out", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = await probe(
      executor,
      `
import socket, errno
def reach(addr, port):
    try:
        socket.create_connection((addr, port), timeout=2).close(); return 'connected'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e)) if e.errno else 'timeout'
result = {a: reach(a, p) for a, p in [('169.254.169.254', 80), ('1.1.1.1', 443), ('8.8.8.8', 53)]}`,
      netTool("net_direct", [{ pattern: "169.254.169.254", allowPrivate: true }]),
    );
    // Dropped on the way out (host firewall, internal network), under runc and runsc alike, even for a tool
    // granted the address: grants apply at the proxy, the only way out.
    for (const [address, outcome] of Object.entries(result as Record<string, string>))
      assert.ok(["timeout", "ENETUNREACH", "EHOSTUNREACH"].includes(outcome), `direct TCP to ${address}: ${outcome}`);
  });

  test("no name resolves from inside the container", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = await probe(
      executor,
      `
import socket
try:
    socket.getaddrinfo('example.com', 443); result = 'resolved'
except socket.gaierror as e:
    result = 'refused'`,
      netTool("net_dns", [{ pattern: "example.com", allowPrivate: false }]),
    );
    assert.equal(result, "refused");
  });

  test("the proxy refuses a host outside the allowlist, for plain HTTP and for CONNECT", async (t) => {
    if (!(await requireDocker(t))) return;
    const tool = netTool("net_not_allowed", [{ pattern: "api.example.com", allowPrivate: false }]);
    const result = (await probe(
      executor,
      `${HTTP_GET}${TUNNEL_GET}
result = {'http': get('http://evil.example/steal'), 'connect': tunnel_get('evil.example', 443)}`,
      tool,
    )) as { http: [number, string]; connect: [string, string] };
    assert.equal(result.http[0], 403);
    assert.match(result.http[1], /evil\.example/);
    assert.match(result.connect[1], /403/);
    const mine = records.filter((r) => r.record.host === "evil.example");
    assert.equal(mine.length, 2);
    assert.ok(mine.every((r) => r.record.denied && r.record.status === null));
    assert.deepEqual(mine.map((r) => r.record.method).sort(), ["CONNECT", "GET"]);
  });

  test("the proxy refuses a private address unless the operator allowed it (no allowPrivate)", async (t) => {
    if (!(await requireDocker(t))) return;
    const before = hostHits;
    const tool = netTool("net_private", [
      { pattern: `http://127.0.0.1:${hostPort}`, allowPrivate: false },
      { pattern: "http://169.254.169.254", allowPrivate: false },
    ]);
    const result = (await probe(
      executor,
      `${HTTP_GET}
result = {'loopback': get('http://127.0.0.1:${hostPort}/'), 'metadata': get('http://169.254.169.254/latest/meta-data/')}`,
      tool,
    )) as Record<string, [number, string]>;
    assert.equal(result.loopback![0], 403);
    assert.equal(result.metadata![0], 403);
    assert.equal(hostHits, before, "the host service was never contacted");
  });

  test("the proxy forwards to an allowed host (allowPrivate grant) and reports each exchange", async (t) => {
    if (!(await requireDocker(t))) return;
    const { host, port } = upstream;
    const tool = netTool("net_allowed", [
      { pattern: `http://${host}:${port}`, allowPrivate: true },
      { pattern: `${host}:${port}`, allowPrivate: true },
    ]);
    const result = (await probe(
      executor,
      `${HTTP_GET}${TUNNEL_GET}
result = {'http': get('http://${host}:${port}/via-proxy'), 'connect': tunnel_get('${host}', ${port})}`,
      tool,
    )) as { http: [number, string]; connect: [number, string] };
    assert.deepEqual(result.http, [200, upstream.saw("/via-proxy")]);
    assert.deepEqual(result.connect, [200, upstream.saw("/through-tunnel")]);
    // Read as soon as execute resolved: every record of the call was delivered before (container mode: the
    // unbind ack follows the records on the proxy's stdout).
    const mine = records.filter((r) => r.record.host === host && r.record.status === 200);
    assert.deepEqual(mine.map((r) => r.record.method).sort(), ["CONNECT", "GET"]);
    assert.ok(mine.every((r) => r.record.port === port && r.record.bytes > 0 && !r.record.denied));
  });

  test("a tunnel still open when the tool answers is recorded before execute resolves", async (t) => {
    if (!(await requireDocker(t))) return;
    const { host, port } = upstream;
    const tool = netTool("net_held_open", [{ pattern: `${host}:${port}`, allowPrivate: true }]);
    const from = records.length;
    // A child process keeps the tunnel open past the result: its record can only come from the unbind
    // (the proxy reports open exchanges when the call ends), so it is complete only if execute waited for it.
    const result = await probe(
      executor,
      `
import socket, time, urllib.parse
p = urllib.parse.urlparse(os.environ['HTTP_PROXY'])
r, w = os.pipe()
if os.fork() == 0:
    s = socket.create_connection((p.hostname, p.port), timeout=5)
    s.sendall(b'CONNECT ${host}:${port} HTTP/1.1\\r\\nHost: ${host}:${port}\\r\\n\\r\\n')
    s.recv(200)
    # Half a request: the upstream waits for the rest, so neither side closes the tunnel.
    s.sendall(b'GET /held-open HTTP/1.1\\r\\nHost: upstream\\r\\n')
    os.write(w, b'x')
    time.sleep(30)
    os._exit(0)
os.read(r, 1)
result = 'held'`,
      tool,
    );
    assert.equal(result, "held");
    const mine = records.slice(from).filter((r) => r.record.host === host && r.record.method === "CONNECT");
    assert.equal(mine.length, 1, JSON.stringify(records.slice(from)));
    assert.equal(mine[0]!.record.status, 200);
    assert.ok((mine[0]!.record.bytesSent ?? 0) > 0, JSON.stringify(mine[0]));
  });

  test("firewall rules and the egress network exist while serving and are removed on close", async (t) => {
    if (!(await requireDocker(t))) return;
    const id = `${serverId}b`;
    const ownGateway = new EgressGateway({ docker, serverId: id, mode });
    const own = createContainerExecutor({ docker, egress: ownGateway, runtime: TEST_RUNTIME, serverId: id, poolSize: 0, reapIntervalMs: 0 });
    await probe(own, "result = 1", { name: "net_close", network: true });
    const rules = (): string[] => execFileSync("iptables", ["-w", "5", "-S"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(`warden:${id}`));
    const networks = async (): Promise<string[]> =>
      (await docker.listNetworks({ filters: { label: [`warden.server=${id}`] } })).map((n) => n.Name).sort();
    const proxies = async (): Promise<number> => (await docker.listContainers({ all: true, filters: { name: [egressProxyName(id)] } })).length;
    assert.ok(rules().length >= 2, "INPUT rules for the bridge are installed");
    assert.deepEqual(await networks(), mode === "host" ? [egressNetworkName(id)] : [egressNetworkName(id), outboundNetworkName(id)].sort());
    assert.equal(await proxies(), mode === "host" ? 0 : 1);
    await own.close();
    await ownGateway.close();
    assert.deepEqual(rules(), []);
    assert.deepEqual(await networks(), []);
    assert.equal(await proxies(), 0);
  });

  if (mode === "container") {
    test("the engine host is unreachable through the proxy container, even with allowPrivate grants for its addresses", async (t) => {
      if (!(await requireDocker(t))) return;
      const before = hostHits;
      const targets = hostAddresses();
      const tool = netTool(
        "net_engine_host",
        targets.map((a) => ({ pattern: `http://${a}:${hostPort}`, allowPrivate: true })),
      );
      const result = (await probe(
        executor,
        `${HTTP_GET}
result = {a: get('http://%s:%d/' % (a, input['port'])) for a in input['targets']}`,
        tool,
        { input: { targets, port: hostPort } },
      )) as Record<string, [number | string, string]>;
      for (const [address, [status]] of Object.entries(result))
        assert.ok(status === 403 || status === 502, `the host service answered through ${address}: ${status}`);
      // The gateways of both networks (the engine host) are refused by the proxy itself (403), not just cut.
      const gatewaysOf = async (name: string): Promise<string[]> =>
        ((await docker.getNetwork(name).inspect()) as { IPAM: { Config: Array<{ Gateway?: string }> } }).IPAM.Config.flatMap((c) => (c.Gateway ? [c.Gateway] : []));
      for (const gw of [...(await gatewaysOf(egressNetworkName(serverId))), ...(await gatewaysOf(outboundNetworkName(serverId)))])
        assert.equal(result[gw]?.[0], 403, `gateway ${gw}: ${JSON.stringify(result[gw])}`);
      assert.equal(hostHits, before, "the host service was never contacted");
    });

    test("with a remote engine (TCP DOCKER_HOST; here a forwarder to the local socket) the default is the proxy container, and networked tools work through it", async (t) => {
      if (!(await requireDocker(t))) return;
      // A TCP engine address: its bridges, gateways and pids are not this host's (no firewall, no nsenter).
      // Half-open both ways: a tool's stdin EOF must not close the stream its result comes back on.
      const forwarder = createTcpServer({ allowHalfOpen: true }, (client) => {
        const engine = connectTcp({ path: "/var/run/docker.sock", allowHalfOpen: true });
        client.pipe(engine).pipe(client);
        client.on("error", () => engine.destroy());
        engine.on("error", () => client.destroy());
      });
      await new Promise<void>((resolve) => forwarder.listen(0, "127.0.0.1", resolve));
      const remote = new Dockerode({ host: "127.0.0.1", port: (forwarder.address() as { port: number }).port, protocol: "http" });
      const id = `${serverId}r`;
      const remoteGateway = new EgressGateway({ docker: remote, serverId: id });
      assert.equal(remoteGateway.mode, "container");
      assert.equal(new EgressGateway({ docker, serverId: id }).mode, "host", "a unix socket is a local engine: host mode by default");
      const remoteExecutor = withBrokerPolicy(
        createContainerExecutor({ docker: remote, egress: remoteGateway, runtime: TEST_RUNTIME, serverId: id, poolSize: 0, reapIntervalMs: 0 }),
        (tool) => grants.get(tool.name) ?? [],
        (callId, record) => void records.push({ callId, record }),
      );
      let remoteUpstream: Upstream | undefined;
      try {
        await remoteGateway.ready();
        remoteUpstream = await startUpstream(docker, outboundNetworkName(id), id);
        const { host, port } = remoteUpstream;
        const tool = netTool("net_remote", [{ pattern: `http://${host}:${port}`, allowPrivate: true }]);
        const from = records.length;
        const result = (await probe(remoteExecutor, `${HTTP_GET}\nresult = {'ok': get('http://${host}:${port}/remote'), 'no': get('http://evil.example/x')}`, tool)) as Record<string, [number, string]>;
        assert.deepEqual(result.ok, [200, remoteUpstream.saw("/remote")]);
        assert.equal(result.no![0], 403);
        const mine = records.slice(from).map((r) => [r.record.host, r.record.status ?? "denied"]);
        assert.deepEqual(mine, [[host, 200], ["evil.example", "denied"]]);
        const rules = execFileSync("iptables", ["-w", "5", "-S"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(`warden:${id}`));
        assert.deepEqual(rules, [], "no firewall rules are installed for an engine that is not on this host");
      } finally {
        await remoteExecutor.close();
        await remoteUpstream?.close();
        await remoteGateway.close();
        forwarder.close();
      }
    });

    test("a tool cannot end the control channel with huge hosts: records are cut in the proxy container, which keeps running", async (t) => {
      if (!(await requireDocker(t))) return;
      const before = (await docker.getContainer(egressProxyName(serverId)).inspect()).Id;
      const from = records.length;
      const result = await probe(
        executor,
        `
import socket, urllib.parse
p = urllib.parse.urlparse(os.environ['HTTP_PROXY'])
host = 'a' * 15000 + '.evil.test'
s = socket.create_connection((p.hostname, p.port), timeout=5)
s.sendall(('CONNECT %s:443 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' % host).encode())
result = s.recv(100).decode().split('\\r\\n')[0]`,
        netTool("net_huge_host", [{ pattern: "api.example.com", allowPrivate: false }]),
      );
      assert.match(String(result), / 403 /);
      const mine = records.slice(from);
      assert.equal(mine.length, 1);
      assert.ok(mine[0]!.record.host.length <= 256 && mine[0]!.record.denied, JSON.stringify(mine[0]!.record).slice(0, 300));
      assert.equal((await docker.getContainer(egressProxyName(serverId)).inspect()).Id, before, "the proxy container was not restarted");
    });

    test("a killed proxy container fails its bound call closed, non-networked tools keep working, and the next networked call gets a new proxy", async (t) => {
      if (!(await requireDocker(t))) return;
      const { host, port } = upstream;
      const tool = netTool("net_crash", [{ pattern: `http://${host}:${port}`, allowPrivate: true }]);
      const callCount = records.length;
      const pending = call(executor, fixtureTool("probe", tool), {
        code: `${HTTP_GET}
import time
first = get('http://${host}:${port}/before-crash')
time.sleep(3)
result = {'first': first, 'second': get('http://${host}:${port}/after-crash')}`,
      });
      await waitFor(() => records.slice(callCount).some((r) => r.record.status === 200), "the call's first exchange");
      const proxyAddress = async (): Promise<string | undefined> =>
        (await docker.getContainer(egressProxyName(serverId)).inspect()).NetworkSettings.Networks[egressNetworkName(serverId)]?.IPAddress;
      const addressBefore = await proxyAddress();
      await docker.getContainer(egressProxyName(serverId)).kill();
      // Bound to the proxy that died: its records may be incomplete, so it is not reported as a success.
      assertCode(await pending, "E_SANDBOX_UNAVAILABLE");
      // A tool without network never needed the proxy.
      assert.equal(await probe(executor, "result = 6 * 7", { name: "net_free", network: false }), 42);
      const again = (await probe(executor, `${HTTP_GET}\nresult = get('http://${host}:${port}/restarted')`, tool)) as [number, string];
      assert.deepEqual(again, [200, upstream.saw("/restarted")]);
      // The same address: warm containers created before the crash still have the right HTTP(S)_PROXY.
      assert.equal(await proxyAddress(), addressBefore);
    });
  }
});
