import { randomUUID } from "node:crypto";
import { type EntraEmulator, startEntra } from "../../src/entra.js";
import { type OidcIssuer, startIssuer } from "../../src/issuer.js";
import { testTls } from "./tls.js";

export const EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** An Entra emulator (HTTPS, trusted by the run) with one app federated with a loopback issuer. */
export interface Federation {
  entra: EntraEmulator;
  issuer: OidcIssuer;
  tenantId: string;
  clientId: string;
  subject: string;
  assertion(): Promise<string>;
  close(): Promise<void>;
}

export async function startFederation(
  options: { roles?: string[]; entra?: Parameters<typeof startEntra>[0] } = {},
): Promise<Federation> {
  const tls = testTls();
  const issuer = await startIssuer();
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const subject = "repo:acme/app:ref:refs/heads/main";
  const entra = await startEntra({
    ...options.entra,
    tls: { cert: tls.cert, key: tls.key },
    tenants: [
      {
        tenantId,
        apps: [
          {
            clientId,
            roles: options.roles ?? [],
            federatedCredentials: [{ issuer: issuer.url, subject, audiences: [EXCHANGE_AUDIENCE] }],
          },
        ],
      },
    ],
  });
  return {
    entra,
    issuer,
    tenantId,
    clientId,
    subject,
    assertion: () => issuer.mint({ subject, audience: EXCHANGE_AUDIENCE }),
    async close() {
      await entra.close();
      await issuer.close();
    },
  };
}
