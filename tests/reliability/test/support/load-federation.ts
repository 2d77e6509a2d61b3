import {
  type EntraConfig,
  type EntraEmulator,
  type OidcIssuer,
  startEntra,
  startIssuer,
} from "@fedcred/emulator";
import { recordSecret } from "./secrets-capture.js";

/** The audience of federated assertions. */
export const EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";
/** The one app of every tenant of a {@link Federation}. */
export const CLIENT_ID = "7e1a0000-0000-4000-8000-00000000c11e";
export const SUBJECT = "fedcred:reliability:workload";

/** The `index`-th tenant id: a GUID, as Entra's tenant ids are. */
export function tenantIdOf(index: number): string {
  return `7e1a0000-0000-4000-8000-${index.toString(16).padStart(12, "0")}`;
}

/** An OIDC issuer and an emulated Entra ID whose tenants all federate the same app with it. */
export interface Federation {
  readonly issuer: OidcIssuer;
  readonly entra: EntraEmulator;
  readonly tenants: readonly string[];
  /** Mints a federated assertion for the app (recorded as a secret). */
  mint(lifetimeSeconds?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts an issuer and an Entra ID on loopback (plain http) with `tenants` tenants, each holding
 * the app {@link CLIENT_ID} federated with the issuer for {@link SUBJECT}.
 */
export async function startFederation(
  options: { tenants?: number; entra?: Omit<EntraConfig, "tenants"> } = {},
): Promise<Federation> {
  const issuer = await startIssuer();
  const tenants = Array.from({ length: options.tenants ?? 1 }, (_, index) => tenantIdOf(index));
  const entra = await startEntra({
    ...options.entra,
    tenants: tenants.map((tenantId) => ({
      tenantId,
      apps: [
        {
          clientId: CLIENT_ID,
          federatedCredentials: [
            { issuer: issuer.url, subject: SUBJECT, audiences: [EXCHANGE_AUDIENCE] },
          ],
        },
      ],
    })),
  });
  return {
    issuer,
    entra,
    tenants,
    async mint(lifetimeSeconds = 3600) {
      const assertion = await issuer.mint({
        subject: SUBJECT,
        audience: EXCHANGE_AUDIENCE,
        lifetimeSeconds,
      });
      recordSecret("a federated assertion the test minted", assertion);
      return assertion;
    },
    async close() {
      await Promise.all([entra.close(), issuer.close()]);
    },
  };
}

/** The claims of a JWT, unverified (tests read what the emulator put in its tokens). */
export function claimsOf(jwt: string): Record<string, unknown> {
  const payload = jwt.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** A small seeded PRNG (mulberry32), so a run's fault pattern can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
