import { AzureLogger, setLogLevel } from "@azure/logger";
import { AuthenticationError, ClientAssertionCredential, logger } from "@fedcred/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fromAwsWebIdentityToken } from "../src/index.js";
import {
  APP,
  claimsOf,
  type Federation,
  headerOf,
  ROLE_ARN,
  SCOPE,
  startFederation,
  TENANT,
} from "./federation.js";

let federation: Federation;

beforeAll(async () => {
  federation = await startFederation();
});
afterAll(() => federation?.close());

/** Collects what the fedcred logger writes at warning level, until `restore()`. */
function captureWarnings(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const originalLog = AzureLogger.log;
  setLogLevel("warning");
  AzureLogger.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  return {
    lines,
    restore() {
      AzureLogger.log = originalLog;
      setLogLevel(undefined as never);
    },
  };
}

describe("signingAlgorithm", () => {
  it("RS256, the default, logs nothing (run first: the ES384 warning is once per process)", async () => {
    const { lines, restore } = captureWarnings();
    try {
      fromAwsWebIdentityToken({
        clientConfig: federation.clientConfig(),
        signingAlgorithm: "RS256",
      });
      fromAwsWebIdentityToken({ clientConfig: federation.clientConfig() });
      // The logger keeps its lines in order while it loads: once this one is out, any warning
      // the factories logged would be too.
      logger.warning("fedcred-aws-test: sentinel");
      await vi.waitFor(() => expect(lines.some((line) => line.includes("sentinel"))).toBe(true), {
        timeout: 10_000,
      });
      expect(lines.filter((line) => line.includes("signingAlgorithm"))).toEqual([]);
    } finally {
      restore();
    }
  });

  it("ES384: STS signs with it, Entra refuses it (5002730) as Entra does, and a warning says so once", async () => {
    const { lines, restore } = captureWarnings();
    const credentials: ClientAssertionCredential[] = [];
    try {
      for (const _ of [1, 2]) {
        credentials.push(
          new ClientAssertionCredential(
            TENANT,
            APP,
            fromAwsWebIdentityToken({
              clientConfig: federation.clientConfig(),
              signingAlgorithm: "ES384",
            }),
            { authorityHost: federation.entra.url, retryOptions: { maxRetries: 0 } },
          ),
        );
      }
      const error = (await credentials[0]
        ?.getToken(SCOPE)
        .catch((caught: unknown) => caught)) as AuthenticationError;
      expect(AuthenticationError.isInstance(error)).toBe(true);
      expect(error.errorResponse?.errorCodes).toEqual([5002730]);

      expect(federation.webIdentityRequests().at(-1)?.params.SigningAlgorithm).toBe("ES384");
      const [exchange] = federation.tokenRequests();
      const assertion = exchange?.form.client_assertion ?? "";
      expect(headerOf(assertion).alg).toBe("ES384");
      // Everything else matched the federated credential: only the algorithm was refused.
      expect(claimsOf(assertion).sub).toBe(ROLE_ARN);

      const warnings = lines.filter((line) => line.includes('signingAlgorithm "ES384"'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("AADSTS5002730");
      expect(warnings[0]).toContain('Use "RS256"');
    } finally {
      restore();
      for (const credential of credentials) await credential.close();
    }
  });
});
