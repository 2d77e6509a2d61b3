import { ClientAssertionCredential } from "@fedcred/core";
import { type EntraEmulator, type OidcIssuer, startEntra, startIssuer } from "@fedcred/emulator";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const TENANT = "0f0e0d0c-0000-4000-8000-00000000f00d";
const APP = "0f0e0d0c-0000-4000-8000-0000000a9900";
const SUBJECT = "ci:refresh";
let issuer: OidcIssuer;
let entra: EntraEmulator;

beforeAll(async () => {
  issuer = await startIssuer();
  entra = await startEntra({
    accessTokenLifetimeSeconds: 30,
    refreshInSeconds: 1,
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            federatedCredentials: [
              {
                issuer: issuer.issuer,
                subject: SUBJECT,
                audiences: ["api://AzureADTokenExchange"],
              },
            ],
          },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await Promise.all([entra?.close(), issuer?.close()]);
});

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Real seconds here: the behaviour under test is when the refresh happens.
describe("refresh_in from Entra", () => {
  it("refreshes in the background after refresh_in, answering callers with the valid token meanwhile", async () => {
    let assertions = 0;
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      async () => {
        assertions++;
        return issuer.mint({ subject: SUBJECT, audience: "api://AzureADTokenExchange" });
      },
      { authorityHost: entra.url },
    );
    const first = await credential.getToken("https://management.azure.com/.default");
    expect(first.refreshAfterTimestamp! - Date.now()).toBeLessThanOrEqual(1000);
    await wait(1100);
    entra.injectFault({ kind: "delay", delayMs: 300 });
    const during = await credential.getToken("https://management.azure.com/.default");
    expect(during.token).toBe(first.token);
    await vi.waitFor(() => expect(assertions).toBe(2), { timeout: 10_000 });
    // The refresh's answer comes 0.3 s later (more on a loaded machine): callers then get it.
    await vi.waitFor(
      async () => {
        const after = await credential.getToken("https://management.azure.com/.default");
        expect(after.token).not.toBe(first.token);
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(entra.tokenRequestCount).toBe(2);
    await credential.close();
  });

  it("keeps the valid token when the background refresh is refused, and does not retry at once", async () => {
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      () => issuer.mint({ subject: SUBJECT, audience: "api://AzureADTokenExchange" }),
      { authorityHost: entra.url, retryOptions: { maxRetries: 0 } },
    );
    entra.reset();
    const first = await credential.getToken("https://vault.azure.net/.default");
    await wait(1100);
    entra.injectFault({ kind: "status", status: 500 }, { count: 5 });
    const callsKeepTheCachedToken = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        expect((await credential.getToken("https://vault.azure.net/.default")).token).toBe(
          first.token,
        );
        await wait(50);
      }
    };
    await callsKeepTheCachedToken();
    // The refused refresh reaches Entra (later on a loaded machine), and is not tried again.
    await vi.waitFor(() => expect(entra.tokenRequestCount).toBe(2), { timeout: 10_000 });
    await callsKeepTheCachedToken();
    expect(entra.tokenRequestCount).toBe(2);
    await credential.close();
  });
});
