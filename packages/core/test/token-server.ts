import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { AuthenticationError } from "../src/errors.js";

/** One request the fake token endpoint received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  form: Record<string, string>;
  rawBody: string;
}

/** What the fake endpoint answers: a status, headers and a body, or a dropped connection. */
export type Reply =
  | { status: number; body: unknown; headers?: Record<string, string>; delayMs?: number }
  | { drop: true }
  | { hang: true }
  /** Answers the request itself: any status, headers or body stream. */
  | { handle: (request: IncomingMessage, response: ServerResponse) => void };

/**
 * A loopback HTTP server playing the Entra ID v2 token endpoint: by default it answers every
 * request with a fresh token; `replies` queues other answers for the next requests.
 */
export interface TokenServer {
  authorityHost: string;
  requests: RecordedRequest[];
  replies: Reply[];
  /** Lifetime of the default tokens, in seconds, and an optional refresh_in. */
  expiresIn: number | string;
  refreshIn?: number | string;
  issued: string[];
  close(): Promise<void>;
}

let counter = 0;

export function tokenSuccess(
  token: string,
  expiresIn: number | string = 3599,
  extra: Record<string, unknown> = {},
): Reply {
  return {
    status: 200,
    body: {
      token_type: "Bearer",
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: token,
      ...extra,
    },
  };
}

export function entraError(
  status: number,
  error: string,
  code: number,
  text = "Something went wrong.",
): Reply {
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${text} Trace ID: 0000 Correlation ID: corr-${code} Timestamp: 2026-11-26 04:36:45Z`,
      error_codes: [code],
      timestamp: "2026-11-26 04:36:45Z",
      trace_id: `trace-${code}`,
      correlation_id: `corr-${code}`,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

export async function startTokenServer(): Promise<TokenServer> {
  const sockets = new Set<Socket>();
  const state: TokenServer = {
    authorityHost: "",
    requests: [],
    replies: [],
    expiresIn: 3599,
    issued: [],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const rawBody = Buffer.concat(chunks).toString("utf8");
      state.requests.push({
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        form: Object.fromEntries(new URLSearchParams(rawBody)),
        rawBody,
      });
      const reply = state.replies.shift() ?? defaultReply();
      if ("drop" in reply) {
        request.socket.destroy();
        return;
      }
      if ("hang" in reply) return;
      if ("handle" in reply) {
        reply.handle(request, response);
        return;
      }
      const send = (): void => {
        const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
        response.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
        response.end(text);
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  const defaultReply = (): Reply => {
    const token = `access-token-${++counter}`;
    state.issued.push(token);
    return tokenSuccess(
      token,
      state.expiresIn,
      state.refreshIn === undefined ? {} : { refresh_in: state.refreshIn },
    );
  };
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.authorityHost = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/** A syntactically real JWT (unsigned) with the given claims, as an assertion stand-in. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string =>
    Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "RS256", typ: "JWT", kid: "k1" })}.${encode(claims)}.c2lnbmF0dXJl`;
}

/** The ids and scope every credential test uses. */
export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const CLIENT = "11111111-2222-3333-4444-555555555555";
export const SCOPE = "https://storage.azure.com/.default";

/** The rejection of `promise`, checked to be an `AuthenticationError` (from any install). */
export async function rejection(promise: Promise<unknown>): Promise<AuthenticationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!AuthenticationError.isInstance(error)) {
    throw new Error(`expected an AuthenticationError, got ${String(error)}`);
  }
  return error;
}

/**
 * Polls `condition` every 5 ms, up to 2,000 times (10 s or more on a loaded machine), and
 * returns whether it held. It counts polls, not time, so faked clocks neither stop it nor move
 * (`vi.waitFor` advances faked timers on each try).
 */
export async function pollUntil(condition: () => boolean | Promise<boolean>): Promise<boolean> {
  for (let polls = 0; polls < 2000; polls++) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return condition();
}
