import { WardenError } from "../errors.js";
import type { Config, ToolGrant } from "../config/schema.js";
import type { Effect, Manifest } from "../manifest/schema.js";
import { parseNetworkPattern, type NetworkPattern } from "./network/index.js";
import type { EffectiveCapabilities, NetworkGrant, VolumeGrant } from "./types.js";

const EFFECT_RANK: Record<Effect, number> = { read: 0, write: 1, destructive: 2 };

export interface EffectiveTool {
  capabilities: EffectiveCapabilities;
  effect: Effect;
}

/**
 * Effective capability = manifest ∩ operator grant (SPEC §6). A grant can only
 * narrow: naming a host, volume or secret the manifest does not declare is a
 * config error at startup, so an operator typo never silently widens a tool.
 */
export function effectiveFor(manifest: Manifest, grant: ToolGrant | undefined, config: Config, configFile: string): EffectiveTool {
  const where = (path: string) => `${configFile}: grants.${manifest.name}.${path}`;
  const declared = manifest.capabilities ?? {};

  const declaredPatterns = (declared.network?.allow ?? []).map((p) => parseNetworkPattern(p));
  let network: NetworkGrant[];
  if (grant?.network === undefined) {
    network = declaredPatterns.map((p) => ({ pattern: p.text, allowPrivate: false }));
  } else {
    network = grant.network.map((entry, i) => {
      const text = typeof entry === "string" ? entry : entry.host;
      const allowPrivate = typeof entry === "string" ? false : entry.allowPrivate === true;
      let wanted: NetworkPattern;
      try {
        wanted = parseNetworkPattern(text);
      } catch (err) {
        throw new WardenError("E_CONFIG", `${where(`network[${i}]`)}: ${(err as Error).message}`);
      }
      if (!declaredPatterns.some((d) => patternCovers(d, wanted)))
        throw new WardenError(
          "E_CONFIG",
          `${where(`network[${i}]`)}: "${text}" is not declared by the manifest of ${manifest.name} (declared: ${declaredPatterns.map((d) => d.text).join(", ") || "no network"}); fix: remove it from the grant — a grant can only narrow what the manifest declares`,
        );
      return { pattern: wanted.text, allowPrivate };
    });
  }

  const declaredFs = declared.filesystem ?? [];
  const fsEntries = grant?.filesystem ?? declaredFs;
  const filesystem: VolumeGrant[] = fsEntries.map((entry, i) => {
    const decl = declaredFs.find((d) => d.volume === entry.volume);
    if (!decl)
      throw new WardenError("E_CONFIG", `${where(`filesystem[${i}]`)}: volume "${entry.volume}" is not declared by the manifest of ${manifest.name}; fix: remove it from the grant`);
    if (entry.access === "read-write" && decl.access === "read")
      throw new WardenError("E_CONFIG", `${where(`filesystem[${i}]`)}: "read-write" on "${entry.volume}" is wider than the manifest's "read"; fix: grant "read"`);
    const volume = config.volumes[entry.volume];
    if (!volume)
      throw new WardenError(
        "E_CONFIG",
        `${configFile}: volumes.${entry.volume}: ${manifest.name} uses volume "${entry.volume}" but the config maps no directory to it; fix: add "volumes": {"${entry.volume}": {"path": "..."}} or grant ${manifest.name} "filesystem": []`,
      );
    return { volume: entry.volume, access: entry.access, hostPath: volume.path, ...(volume.maxBytes ? { maxBytes: volume.maxBytes } : {}) };
  });

  const declaredEnv = declared.env ?? [];
  const env = grant?.env ?? declaredEnv;
  env.forEach((name, i) => {
    if (!declaredEnv.includes(name))
      throw new WardenError("E_CONFIG", `${where(`env[${i}]`)}: secret "${name}" is not declared by the manifest of ${manifest.name}; fix: remove it from the grant`);
    if (!config.secrets[name])
      throw new WardenError(
        "E_CONFIG",
        `${configFile}: secrets.${name}: ${manifest.name} needs secret "${name}" but the config does not map it; fix: add "secrets": {"${name}": {"env": "WARDEN_SECRET_${name}"}} or grant ${manifest.name} "env": []`,
      );
  });

  let effect: Effect = manifest.effect;
  if (filesystem.some((f) => f.access === "read-write") && EFFECT_RANK[effect] < EFFECT_RANK.write) effect = "write";
  if (grant?.effect) {
    if (EFFECT_RANK[grant.effect] < EFFECT_RANK[effect])
      throw new WardenError("E_CONFIG", `${where("effect")}: "${grant.effect}" is lower than ${manifest.name}'s effect "${effect}"; fix: an operator may raise the effect, never lower it`);
    effect = grant.effect;
  }
  return { capabilities: { network, filesystem, env: [...env] }, effect };
}

/** Does the manifest pattern `d` allow everything the grant pattern `g` allows? */
export function patternCovers(d: NetworkPattern, g: NetworkPattern): boolean {
  if (d.scheme !== g.scheme || d.port !== g.port) return false;
  if (!d.wildcard) return !g.wildcard && d.host === g.host;
  // *.example.org covers api.example.org and *.api.example.org, never example.org itself.
  return g.host.endsWith(`.${d.host}`) || (g.wildcard && g.host === d.host);
}

export function effectRank(effect: Effect): number {
  return EFFECT_RANK[effect];
}
