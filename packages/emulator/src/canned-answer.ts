import type { ServerResponse } from "node:http";
import { waitWhileOpen } from "./faults.js";

/**
 * An answer a CI token service (GitHub Actions, Azure Pipelines) plays instead of its normal one,
 * to test how a client takes what a proxy, an outage or a hostile server sends: any status,
 * headers and body, after an optional delay, or a dropped connection.
 *
 * @example
 * ```ts
 * const redirect: CannedAnswer = { status: 302, headers: { location: "https://elsewhere.example/" } };
 * const signInPage: CannedAnswer = { status: 200, headers: { "content-type": "text/html" }, body: "<html>Sign in</html>" };
 * const hang: CannedAnswer = { delayMs: 30_000 };
 * ```
 */
export interface CannedAnswer {
  /** Defaults to 200. */
  status?: number;
  headers?: Record<string, string>;
  /** Sent as is. Defaults to an empty body. */
  body?: string;
  /** Waits this long first (the wait ends early when the client goes away). */
  delayMs?: number;
  /** Destroys the connection without an answer (after `delayMs`). */
  drop?: boolean;
}

/** Checks a canned answer when it is queued, so a test learns of a mistake at once. */
export function checkCannedAnswer(answer: CannedAnswer): void {
  const status = answer.status ?? 200;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`a canned answer's status must be an HTTP status, got ${status}`);
  }
  if (answer.delayMs !== undefined && !(answer.delayMs >= 0)) {
    throw new RangeError("a canned answer's delayMs must be 0 or more");
  }
}

/** Plays `answer` on `response`. */
export async function playCannedAnswer(
  response: ServerResponse,
  answer: CannedAnswer,
): Promise<void> {
  if (answer.delayMs && !(await waitWhileOpen(response, answer.delayMs))) return;
  if (answer.drop) {
    response.socket?.destroy();
    return;
  }
  const body = answer.body ?? "";
  response.writeHead(answer.status ?? 200, {
    "content-length": String(Buffer.byteLength(body)),
    ...answer.headers,
  });
  response.end(body);
}
