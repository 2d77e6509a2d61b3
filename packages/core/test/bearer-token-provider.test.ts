import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { AzureOpenAI, AuthenticationError as OpenAIAuthenticationError } from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
  getBearerTokenProvider,
} from "../src/index.js";
import { CLIENT, fakeJwt, startTokenServer, TENANT, type TokenServer } from "./token-server.js";

const COGNITIVE_SERVICES = "https://cognitiveservices.azure.com/.default";
const API_VERSION = "2024-10-21";
const ASSERTION = fakeJwt({
  iss: "https://kubernetes.default.svc",
  sub: "system:serviceaccount:prod:chat",
  aud: "api://AzureADTokenExchange",
  exp: 4_000_000_000,
});

interface ChatRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: { messages?: unknown };
}

/**
 * A loopback server playing Azure OpenAI chat completions for the deployment `gpt`: it answers
 * 401 unless the bearer token is one `isValidToken` accepts, as the service does.
 */
interface AzureOpenAIServer {
  endpoint: string;
  requests: ChatRequest[];
  close(): Promise<void>;
}

async function startAzureOpenAIServer(
  isValidToken: (token: string) => boolean,
): Promise<AzureOpenAIServer> {
  const sockets = new Set<Socket>();
  const requests: ChatRequest[] = [];
  const send = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      requests.push({
        method: request.method ?? "",
        path: request.url ?? "",
        authorization: request.headers.authorization,
        body: text === "" ? {} : JSON.parse(text),
      });
      const url = new URL(request.url ?? "/", "http://127.0.0.1");
      if (
        request.method !== "POST" ||
        url.pathname !== "/openai/deployments/gpt/chat/completions" ||
        url.searchParams.get("api-version") !== API_VERSION
      ) {
        send(response, 404, { error: { code: "404", message: "Resource not found" } });
        return;
      }
      const [scheme, token] = (request.headers.authorization ?? "").split(" ");
      if (scheme !== "Bearer" || token === undefined || !isValidToken(token)) {
        send(response, 401, {
          error: {
            code: "401",
            message: "Unauthorized. Access token is missing, invalid, or expired.",
          },
        });
        return;
      }
      send(response, 200, {
        id: `chatcmpl-${requests.length}`,
        object: "chat.completion",
        created: 1_764_000_000,
        model: "gpt-4o-2024-08-06",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: "Hello from the loopback deployment.",
              refusal: null,
            },
            logprobs: null,
            finish_reason: "stop",
          },
        ],
        usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
      });
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function azureOpenAI(tokenProvider: () => Promise<string>, endpoint: string): AzureOpenAI {
  return new AzureOpenAI({
    azureADTokenProvider: tokenProvider,
    endpoint,
    apiVersion: API_VERSION,
    deployment: "gpt",
    maxRetries: 0,
  });
}

/** A TokenCredential that is not fedcred's: it records its calls and answers `answer()`. */
function plainCredential(answer: () => Promise<AccessToken | null>): TokenCredential & {
  calls: Array<{ scopes: string | string[]; options: GetTokenOptions | undefined }>;
} {
  const calls: Array<{ scopes: string | string[]; options: GetTokenOptions | undefined }> = [];
  return {
    calls,
    getToken: (scopes, options) => {
      calls.push({ scopes, options });
      return answer();
    },
  };
}

describe("getBearerTokenProvider with AzureOpenAI", () => {
  let tokenServer: TokenServer;
  let openAIServer: AzureOpenAIServer;

  beforeEach(async () => {
    tokenServer = await startTokenServer();
    openAIServer = await startAzureOpenAIServer((token) => tokenServer.issued.includes(token));
  });

  afterEach(async () => {
    await openAIServer.close();
    await tokenServer.close();
  });

  it("authenticates chat completions with the credential's token, requested once", async () => {
    const credential = new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
      authorityHost: tokenServer.authorityHost,
    });
    const client = azureOpenAI(
      getBearerTokenProvider(credential, COGNITIVE_SERVICES),
      openAIServer.endpoint,
    );

    const first = await client.chat.completions.create({
      model: "gpt",
      messages: [{ role: "user", content: "Say hello." }],
    });
    const second = await client.chat.completions.create({
      model: "gpt",
      messages: [{ role: "user", content: "Again." }],
    });

    expect(first.choices[0]?.message.content).toBe("Hello from the loopback deployment.");
    expect(second.choices[0]?.message.content).toBe("Hello from the loopback deployment.");
    expect(tokenServer.issued).toHaveLength(1);
    expect(tokenServer.requests).toHaveLength(1);
    expect(tokenServer.requests[0]?.form.scope).toBe(COGNITIVE_SERVICES);
    // As Azure SDK clients ask: with the CAE capability, so they share the cached token.
    expect(JSON.parse(tokenServer.requests[0]?.form.claims ?? "null")).toEqual({
      access_token: { xms_cc: { values: ["cp1"] } },
    });
    expect(
      openAIServer.requests.map(({ method, path, authorization }) => ({
        method,
        path,
        authorization,
      })),
    ).toEqual([
      {
        method: "POST",
        path: `/openai/deployments/gpt/chat/completions?api-version=${API_VERSION}`,
        authorization: `Bearer ${tokenServer.issued[0]}`,
      },
      {
        method: "POST",
        path: `/openai/deployments/gpt/chat/completions?api-version=${API_VERSION}`,
        authorization: `Bearer ${tokenServer.issued[0]}`,
      },
    ]);
    expect(openAIServer.requests[1]?.body.messages).toEqual([{ role: "user", content: "Again." }]);
  });

  it("lets the service refuse a token the token server did not issue", async () => {
    const credential = plainCredential(async () => ({
      token: "not-issued-by-entra",
      expiresOnTimestamp: Date.now() + 3_600_000,
    }));
    const client = azureOpenAI(
      getBearerTokenProvider(credential, COGNITIVE_SERVICES),
      openAIServer.endpoint,
    );
    await expect(
      client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "Hi" }] }),
    ).rejects.toBeInstanceOf(OpenAIAuthenticationError);
    expect(openAIServer.requests[0]?.authorization).toBe("Bearer not-issued-by-entra");
  });

  it("rejects at once, sending nothing, when its abort signal has aborted", async () => {
    const credential = new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
      authorityHost: tokenServer.authorityHost,
    });
    const provider = getBearerTokenProvider(credential, COGNITIVE_SERVICES, {
      abortSignal: AbortSignal.abort(),
    });
    await expect(provider()).rejects.toMatchObject({ name: "AbortError" });
    expect(tokenServer.requests).toHaveLength(0);
  });
});

describe("getBearerTokenProvider over any TokenCredential", () => {
  it("asks the credential on every call, passing the scopes and options through", async () => {
    const credential = plainCredential(async () => ({
      token: "plain-token",
      expiresOnTimestamp: Date.now() + 3_600_000,
    }));
    const abortSignal = new AbortController().signal;
    const tracingOptions = { tracingContext: undefined };
    const provider = getBearerTokenProvider(credential, ["api://app/.default"], {
      abortSignal,
      tracingOptions,
    });

    await expect(provider()).resolves.toBe("plain-token");
    await expect(provider()).resolves.toBe("plain-token");
    expect(credential.calls).toHaveLength(2);
    expect(credential.calls[0]?.scopes).toEqual(["api://app/.default"]);
    expect(credential.calls[0]?.options).toEqual({ abortSignal, tracingOptions, enableCae: true });
  });

  it("rejects with an AuthenticationError when the credential returns null", async () => {
    class NullCredential implements TokenCredential {
      async getToken(): Promise<AccessToken | null> {
        return null;
      }
    }
    const failure = await getBearerTokenProvider(new NullCredential(), COGNITIVE_SERVICES)().catch(
      (error: unknown) => error,
    );
    expect(AuthenticationError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ code: "token_request_failed" });
    expect((failure as Error).message).toMatch(/^NullCredential\.getToken returned null for /);
    expect((failure as Error).message).toContain(COGNITIVE_SERVICES);
  });

  it("rejects when the credential resolves to something without a token", async () => {
    const credential = plainCredential(async () => ({ expiresOnTimestamp: 0 }) as AccessToken);
    const failure = await getBearerTokenProvider(credential, COGNITIVE_SERVICES)().catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ name: "AuthenticationError", code: "token_request_failed" });
    expect((failure as Error).message).toMatch(
      /^The credential's getToken returned no token string/,
    );
  });

  it("turns a credential's synchronous throw into a rejection with that error", async () => {
    const thrown = new Error("the token file is missing");
    const credential: TokenCredential = {
      getToken: () => {
        throw thrown;
      },
    };
    const provider = getBearerTokenProvider(credential, COGNITIVE_SERVICES);
    let pending: Promise<string> | undefined;
    expect(() => {
      pending = provider();
    }).not.toThrow();
    await expect(pending).rejects.toBe(thrown);
  });

  it("passes a credential's rejection through unchanged", async () => {
    const refused = new AuthenticationError(
      "Entra ID refused the token request.",
      "token_request_rejected",
    );
    const provider = getBearerTokenProvider(
      plainCredential(() => Promise.reject(refused)),
      COGNITIVE_SERVICES,
    );
    await expect(provider()).rejects.toBe(refused);
  });

  it("throws at creation when given something that is not a TokenCredential", () => {
    expect(() => getBearerTokenProvider({} as TokenCredential, COGNITIVE_SERVICES)).toThrow(
      CredentialUnavailableError,
    );
  });
});
