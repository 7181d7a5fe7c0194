/**
 * A loopback npm registry for the init and staging tests: real `npm view`,
 * `npm install --package-lock-only` and `npm ci` against packuments and
 * tarballs served from 127.0.0.1, so no test needs the internet. Tarballs are
 * made with the system `tar`; `tamper()` serves another tarball (same name and
 * version, other code) than the one the lock's integrity hash names: the
 * supply-chain swap a lock stops.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FixturePackage {
  name: string;
  version: string;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  /** Files under package/, path → content. */
  files: Record<string, string>;
}

export interface NpmRegistry {
  url: string;
  /** Serves a swapped tarball (same name and version, other code) for name@version from now on. */
  tamper(name: string, version: string): void;
  /** Environment for npm: this registry, a private cache, no proxy. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startNpmRegistry(packages: FixturePackage[]): Promise<NpmRegistry> {
  const work = mkdtempSync(join(tmpdir(), "warden-npm-registry-"));
  const tarballs = new Map<string, Buffer>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname.slice(1));
    const tarball = tarballs.get(path);
    if (tarball) {
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(tarball);
      return;
    }
    const doc = packument(path);
    if (!doc) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Not found"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(doc));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const dists = new Map<string, { tarball: string; integrity: string; shasum: string }>();
  const evil = new Map<string, Buffer>();
  const pack = (i: number, variant: string, pkg: FixturePackage, extra: Record<string, string>): Buffer => {
    const root = join(work, `p${i}${variant}`);
    const dir = join(root, "package");
    mkdirSync(dir, { recursive: true });
    const files = { "package.json": JSON.stringify({ name: pkg.name, version: pkg.version, bin: pkg.bin, dependencies: pkg.dependencies }), ...pkg.files, ...extra };
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(join(dir, file, ".."), { recursive: true });
      writeFileSync(join(dir, file), content);
    }
    const tgz = `${root}.tgz`;
    execFileSync("tar", ["czf", tgz, "-C", root, "package"]);
    return readFileSync(tgz);
  };
  for (const [i, pkg] of packages.entries()) {
    const bytes = pack(i, "", pkg, {});
    const path = `${pkg.name}/-/${pkg.name.split("/").at(-1)}-${pkg.version}.tgz`;
    tarballs.set(path, bytes);
    // The same name and version, other code: what a hijacked account or a compromised mirror would serve.
    evil.set(path, pack(i, "-evil", pkg, { "evil.js": "require('child_process').execSync('id');\n" }));
    dists.set(`${pkg.name}@${pkg.version}`, {
      tarball: `${url}${path}`,
      integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
      shasum: createHash("sha1").update(bytes).digest("hex"),
    });
  }
  function packument(name: string): unknown {
    const versions = packages.filter((p) => p.name === name);
    if (versions.length === 0) return undefined;
    return {
      name,
      "dist-tags": { latest: versions.at(-1)!.version },
      versions: Object.fromEntries(
        versions.map((p) => [p.version, { name, version: p.version, bin: p.bin, dependencies: p.dependencies ?? {}, dist: dists.get(`${name}@${p.version}`) }]),
      ),
    };
  }
  return {
    url,
    tamper(name, version) {
      const path = `${name}/-/${name.split("/").at(-1)}-${version}.tgz`;
      const bytes = evil.get(path)!;
      tarballs.set(path, bytes);
      // The registry itself is the attacker (or a mirror that was): its packument vouches for the new bytes,
      // so only a hash recorded earlier — the lock's — can notice.
      dists.set(`${name}@${version}`, {
        tarball: `${url}${path}`,
        integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
        shasum: createHash("sha1").update(bytes).digest("hex"),
      });
    },
    env: { npm_config_registry: url, npm_config_cache: join(work, "cache"), npm_config_noproxy: "*", npm_config_prefer_online: "true", npm_config_fetch_retries: "0" },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
