// Faults while a valid token is cached: a background refresh that fails, and an assertion
// source (a token file) that fails. Callers keep the cached token and never see the failure;
// the next attempt waits at least 30 s. Without a cached token the failure is a typed error.
// Date and performance are faked (a token of an hour, refreshes 55 minutes in); sockets, retries
// and file reads run on real timers.
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CredentialUnavailableError } from "@fedcred/core";
import type { Fault } from "@fedcred/emulator";
import { fromFile } from "@fedcred/file";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type FaultFederation,
  rejectionOf,
  SCOPE,
  SHORT_DEADLINE,
  settle,
  startFaultFederation,
  tokenStatuses,
  until,
} from "./support/faults-federation.js";

/** Entra's tokens live 3599 s; the credential refreshes them 5 minutes before they expire. */
const PAST_REFRESH_POINT_MS = 3300_000;

let federation: FaultFederation;
let directory: string;

beforeAll(async () => {
  federation = await startFaultFederation();
  directory = await mkdtemp(join(tmpdir(), "fedcred-faults-refresh-"));
});

afterAll(async () => {
  await federation?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

beforeEach(() => {
  federation.entra.reset();
  vi.useFakeTimers({ toFake: ["Date", "performance"] });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Many callers at once, each resolving to a token string. */
async function tokensOf(callers: number, get: () => Promise<{ token: string }>): Promise<string[]> {
  return (await Promise.all(Array.from({ length: callers }, get))).map(({ token }) => token);
}

const refreshFaults: [string, Fault, number[]][] = [
  ["Entra answering 503", { kind: "status", status: 503 }, [503, 503, 503]],
  [
    "Entra throttling with Retry-After: 10",
    { kind: "status", status: 429, retryAfter: 10 },
    [429, 429, 429],
  ],
  ["a dropped connection", { kind: "drop" }, [0, 0, 0]],
  ["an answer slower than the deadline", { kind: "delay", delayMs: 10_000 }, [499, 499, 499]],
  ["a 200 without access_token", { kind: "token-response", omit: ["access_token"] }, [200]],
];

describe("a fault during a background refresh, the cached token still valid", () => {
  for (const [name, fault, statuses] of refreshFaults) {
    it(`${name}: callers keep the cached token, nothing is thrown, the next attempt waits 30 s`, async () => {
      const { entra } = federation;
      const credential = federation.credential(fault.kind === "delay" ? SHORT_DEADLINE : {});
      const cached = await credential.getToken(SCOPE);
      expect(entra.tokenRequestCount).toBe(1);

      vi.advanceTimersByTime(PAST_REFRESH_POINT_MS);
      entra.injectFault(fault, { count: statuses.length });
      // The first caller past the refresh point starts the refresh; everyone gets the cached token at once.
      expect(await tokensOf(20, () => credential.getToken(SCOPE))).toEqual(
        Array(20).fill(cached.token),
      );
      const expected = JSON.stringify([200, ...statuses]);
      await until(() => JSON.stringify(tokenStatuses(entra)) === expected);
      await settle();

      // The refresh failed: callers still get the cached token, and nothing is sent for 30 s.
      expect(await tokensOf(20, () => credential.getToken(SCOPE))).toEqual(
        Array(20).fill(cached.token),
      );
      vi.advanceTimersByTime(29_999);
      expect((await credential.getToken(SCOPE)).token).toBe(cached.token);
      await settle();
      expect(entra.tokenRequestCount).toBe(1 + statuses.length);

      // 30 s after the failure the next caller starts one more refresh, which now succeeds.
      vi.advanceTimersByTime(1);
      expect((await credential.getToken(SCOPE)).token).toBe(cached.token);
      await until(() => entra.tokenRequestCount === 2 + statuses.length);
      let renewed = cached.token;
      await until(() => {
        credential.getToken(SCOPE).then((token) => {
          renewed = token.token;
        });
        return renewed !== cached.token;
      });
      expect(tokenStatuses(entra).at(-1)).toBe(200);
      expect(entra.tokenRequestCount).toBe(2 + statuses.length);
    });
  }
});

describe("the assertion source failing: a token file that disappears", () => {
  it("with a valid token cached no caller sees it; without one, a typed error that names the file; then recovery", async () => {
    const { entra, issuer } = federation;
    const path = join(directory, "azure-identity-token");
    const mint = (): Promise<string> =>
      issuer.mint({
        subject: "repo:acme/app:environment:prod",
        audience: "api://AzureADTokenExchange",
      });
    await writeFile(path, await mint());
    let reads = 0;
    const source = fromFile({ path, retryDelayInMs: 5 });
    const counted = (...args: Parameters<typeof source>) => {
      reads += 1;
      return source(...args);
    };
    const credential = federation.credential({}, counted);
    const cached = await credential.getToken(SCOPE);
    expect(reads).toBe(1);

    await unlink(path);
    vi.advanceTimersByTime(PAST_REFRESH_POINT_MS);
    expect(await tokensOf(20, () => credential.getToken(SCOPE))).toEqual(
      Array(20).fill(cached.token),
    );
    await until(() => reads === 2);
    await settle();
    vi.advanceTimersByTime(29_999);
    expect((await credential.getToken(SCOPE)).token).toBe(cached.token);
    await settle();
    // One background attempt, which never got as far as Entra.
    expect(reads).toBe(2);
    expect(entra.tokenRequestCount).toBe(1);

    // A credential with nothing cached gets the source's error as it is.
    const fresh = federation.credential({}, fromFile({ path, retryDelayInMs: 5 }));
    const error = await rejectionOf(fresh.getToken(SCOPE));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      name: "CredentialUnavailableError",
      code: "assertion_unavailable",
    });
    expect(error.message).toBe(
      `The token file ${path} does not exist: check options.path or AZURE_FEDERATED_TOKEN_FILE, and that the volume is mounted.`,
    );
    expect(entra.tokenRequestCount).toBe(1);

    // The file is back: the waiting credential refreshes 30 s after its failure, the fresh one at once.
    await writeFile(path, await mint());
    expect((await fresh.getToken(SCOPE)).token).not.toBe(cached.token);
    vi.advanceTimersByTime(1);
    expect((await credential.getToken(SCOPE)).token).toBe(cached.token);
    await until(() => entra.tokenRequestCount === 3);
    expect(reads).toBe(3);
  });
});
