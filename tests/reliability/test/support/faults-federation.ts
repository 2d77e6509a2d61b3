import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  type AssertionFunc,
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
} from "@fedcred/core";
import {
  type EntraConfig,
  type EntraEmulator,
  type OidcIssuer,
  startEntra,
  startIssuer,
} from "@fedcred/emulator";

export const TENANT = "7f3e2d1c-0000-4000-8000-00000000fa17";
export const APP = "1a2b3c4d-0000-4000-8000-00000000fa17";
export const SCOPE = "https://storage.azure.com/.default";
export const EXCHANGE = "api://AzureADTokenExchange";
export const SUBJECT = "repo:acme/app:environment:prod";

/**
 * Retries as short as they go: three attempts, waits of tens of ms (a `Retry-After` between
 * attempts is capped at 50 ms). The deadline per attempt stays 5 s, so that a loaded machine's
 * slow answer is never a timeout; the tests of slow answers pass {@link SHORT_DEADLINE}.
 */
export const QUICK: ClientAssertionCredentialOptions = {
  retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 50 },
  requestTimeoutInMs: 5_000,
};

/** A 500 ms deadline per attempt, for the faults that hold the answer for 10 s. */
export const SHORT_DEADLINE: ClientAssertionCredentialOptions = { requestTimeoutInMs: 500 };

/** An OIDC issuer on loopback and an Entra emulator whose app trusts it for {@link SUBJECT}. */
export interface FaultFederation {
  entra: EntraEmulator;
  issuer: OidcIssuer;
  /** Mints a fresh assertion of the trusted issuer and subject. */
  assertion: AssertionFunc;
  /** A credential of the app against this Entra, with {@link QUICK} retries unless overridden. */
  credential(
    options?: ClientAssertionCredentialOptions,
    getAssertion?: AssertionFunc,
  ): ClientAssertionCredential;
  close(): Promise<void>;
}

/** The tenant and app {@link startFaultFederation} registers, trusting `issuer`. */
export function entraTenants(issuer: OidcIssuer): EntraConfig["tenants"] {
  return [
    {
      tenantId: TENANT,
      apps: [
        {
          clientId: APP,
          federatedCredentials: [
            { issuer: issuer.issuer, subject: SUBJECT, audiences: [EXCHANGE] },
          ],
        },
      ],
    },
  ];
}

export async function startFaultFederation(
  entraConfig: Omit<EntraConfig, "tenants"> = {},
): Promise<FaultFederation> {
  const issuer = await startIssuer();
  const entra = await startEntra({ ...entraConfig, tenants: entraTenants(issuer) });
  const assertion: AssertionFunc = () => issuer.mint({ subject: SUBJECT, audience: EXCHANGE });
  const credentials: ClientAssertionCredential[] = [];
  return {
    entra,
    issuer,
    assertion,
    credential(options = {}, getAssertion = assertion) {
      const credential = new ClientAssertionCredential(TENANT, APP, getAssertion, {
        authorityHost: entra.authorityHost,
        ...QUICK,
        ...options,
      });
      credentials.push(credential);
      return credential;
    },
    async close() {
      await Promise.all(credentials.map((credential) => credential.close()));
      await Promise.all([entra.close(), issuer.close()]);
    },
  };
}

/**
 * A loopback HTTP server that answers 200 to anything and counts what reaches it: the
 * `Location` of a redirect, to show nothing was sent there.
 */
export interface Witness {
  readonly url: string;
  readonly requests: { method: string; path: string }[];
  /** Connections opened to it, requests or not. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startWitness(): Promise<Witness> {
  const requests: { method: string; path: string }[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((request: IncomingMessage, response) => {
    requests.push({ method: request.method ?? "", path: request.url ?? "" });
    request.resume();
    response.end("{}");
  });
  server.on("connection", (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** The token requests Entra received, oldest first, with what it answered (0: dropped). */
export function tokenStatuses(entra: EntraEmulator): number[] {
  return entra.requests
    .filter((request) => request.path.endsWith("/oauth2/v2.0/token"))
    .map((request) => request.status);
}

/** What a promise rejected with (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection, got a value");
}

/**
 * Waits on real timers until `condition` holds (vi.waitFor would move faked clocks along).
 * Fails after `timeoutMs`.
 */
export async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  // process.uptime() runs on the real clock: the tests fake only Date and performance.
  const deadline = process.uptime() * 1000 + timeoutMs;
  while (!condition()) {
    if (process.uptime() * 1000 > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Lets real time pass: `ms` on the real timers, whatever the faked clocks say. */
export function settle(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
