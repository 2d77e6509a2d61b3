import type { ServerResponse } from "node:http";
import { entraErrorBody, refusals } from "./entra-errors.js";

/**
 * A failure the token endpoint plays instead of (or before) its normal answer.
 *
 * - `status`: answers `status` (default 503) with an Entra error body and optional `Retry-After`;
 * - `delay`: waits `delayMs`, then answers normally;
 * - `drop`: destroys the connection without an answer;
 * - `truncated-json`: answers 200 with the first half of a token response;
 * - `malformed-json`: answers 200 with a body that is not JSON;
 * - `html`: answers `status` (default 502) with an HTML error page, as a proxy in front would.
 *
 * Every kind waits `delayMs` first when it is set.
 *
 * @example
 * ```ts
 * const fault: Fault = { kind: "status", status: 429, retryAfter: 2 };
 * entra.injectFault(fault, { count: 3 });
 * ```
 */
export interface Fault {
  kind: "status" | "delay" | "drop" | "truncated-json" | "malformed-json" | "html";
  status?: number;
  /** `Retry-After`: seconds, or a date sent in HTTP-date form. */
  retryAfter?: number | string | Date;
  delayMs?: number;
}

/**
 * A queued fault and how many more requests it applies to.
 *
 * @example
 * ```ts
 * const [next]: QueuedFault[] = entra.faults.queued;
 * next?.remaining;
 * ```
 */
export type QueuedFault<F extends object = Fault> = F & { remaining: number };

/**
 * A queue of faults: each request takes the first one, which applies to its next `remaining`
 * requests. Entra's token endpoint queues {@link Fault}s; the emulated STS queues its own kind.
 *
 * @example
 * ```ts
 * const faults = new FaultQueue();
 * faults.push({ kind: "status", status: 429, retryAfter: 2 }, 3);
 * ```
 */
export class FaultQueue<F extends object = Fault> {
  readonly queued: QueuedFault<F>[] = [];

  /** `check` throws for a fault the endpoint could not play, when it is pushed. */
  constructor(private readonly check?: (fault: F) => void) {}

  /** Queues `fault` for the next `count` requests (default 1). */
  push(fault: F, count = 1): void {
    if (!Number.isInteger(count) || count < 1)
      throw new TypeError("count must be a positive integer");
    this.check?.(fault);
    this.queued.push({ ...fault, remaining: count });
  }

  /** Takes the fault for the current request, if any. */
  take(): F | undefined {
    const head = this.queued[0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) this.queued.shift();
    const { remaining: _remaining, ...fault } = head;
    return fault as unknown as F;
  }

  clear(): void {
    this.queued.length = 0;
  }
}

function retryAfterHeader(value: Fault["retryAfter"]): Record<string, string> {
  if (value === undefined) return {};
  if (value instanceof Date) return { "retry-after": value.toUTCString() };
  return { "retry-after": String(value) };
}

/** Waits `ms`, unless the connection closes first (a client gave up, or the server is closing). */
function waitWhileOpen(response: ServerResponse, ms: number): Promise<boolean> {
  if (response.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      response.off("close", onClose);
      resolve(true);
    }, ms);
    response.once("close", onClose);
  });
}

const HTML_PAGE = `<!DOCTYPE html>
<html><head><title>Service Unavailable</title></head>
<body><h1>Service Unavailable</h1><p>The service is temporarily unavailable. Please try again later.</p></body></html>
`;

/**
 * Plays `fault` on `response`. Answers `true` when the request is finished, `false` when the
 * endpoint should go on and answer normally (a pure delay).
 *
 * @example
 * ```ts
 * const fault = faults.take();
 * if (fault && (await playFault(fault, response))) return;
 * ```
 */
export async function playFault(fault: Fault, response: ServerResponse): Promise<boolean> {
  if (fault.delayMs && !(await waitWhileOpen(response, fault.delayMs))) return true;
  switch (fault.kind) {
    case "delay":
      return false;
    case "drop":
      response.socket?.destroy();
      return true;
    case "status": {
      const body = JSON.stringify(entraErrorBody(refusals.transient()));
      response.writeHead(fault.status ?? 503, {
        "content-type": "application/json; charset=utf-8",
        ...retryAfterHeader(fault.retryAfter),
      });
      response.end(body);
      return true;
    }
    case "truncated-json": {
      const whole = JSON.stringify({
        token_type: "Bearer",
        expires_in: 3599,
        ext_expires_in: 3599,
        access_token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9",
      });
      response.writeHead(fault.status ?? 200, {
        "content-type": "application/json; charset=utf-8",
      });
      response.end(whole.slice(0, Math.floor(whole.length / 2)));
      return true;
    }
    case "malformed-json":
      response.writeHead(fault.status ?? 200, {
        "content-type": "application/json; charset=utf-8",
      });
      response.end("{token_type: Bearer, <not json>");
      return true;
    case "html":
      response.writeHead(fault.status ?? 502, {
        "content-type": "text/html; charset=utf-8",
        ...retryAfterHeader(fault.retryAfter),
      });
      response.end(HTML_PAGE);
      return true;
  }
}
