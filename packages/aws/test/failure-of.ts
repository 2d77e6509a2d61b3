import {
  type AssertionContext,
  type CredentialUnavailableCode,
  CredentialUnavailableError,
  type FedcredError,
} from "@fedcred/core";
import { expect } from "vitest";
import { type AwsWebIdentityTokenOptions, fromAwsWebIdentityToken } from "../src/index.js";
import { APP, TENANT } from "./federation.js";

/** What the credential passes an assertion function (Entra's public cloud; nothing is sent there). */
export const context: AssertionContext = {
  clientId: APP,
  tenantId: TENANT,
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
};

/** The error a first call of the assertion function rejects with. */
export async function failureOf(options: AwsWebIdentityTokenOptions): Promise<FedcredError> {
  const assertion = fromAwsWebIdentityToken(options);
  return Promise.resolve(assertion(context)).then(
    () => {
      throw new Error("expected the call to fail");
    },
    (error: unknown) => error as FedcredError,
  );
}

/** No message, JSON or inspection of an error holds a key, a session token or a token. */
export function expectNoSecrets(error: FedcredError, ...secrets: (string | undefined)[]): void {
  const shown = `${error.message} ${JSON.stringify(error)}`;
  for (const secret of secrets) if (secret) expect(shown).not.toContain(secret);
  expect(shown).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
}

/** `error` is a `CredentialUnavailableError` (a chain moves on) with `code`, saying each phrase. */
export function expectUnavailable(
  error: FedcredError,
  code: CredentialUnavailableCode,
  ...phrases: string[]
): void {
  expect(CredentialUnavailableError.isInstance(error)).toBe(true);
  expect(error.code).toBe(code);
  for (const phrase of phrases) expect(error.message).toContain(phrase);
}
