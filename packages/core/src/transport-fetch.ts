import { readWebBody, type WebBodyLike } from "./transport-body.js";
import { isRedirect, type OutgoingRequest, type ReceivedResponse } from "./transport-node.js";

/**
 * The part of `fetch` fedcred uses; inject one for custom stacks and tests. The global `fetch`
 * fits, and so does undici's with a dispatcher. fedcred asks for `redirect: "manual"` and
 * refuses any 3xx; it reads `body` as a stream with its size cap when there is one.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential, type FetchLike } from "@fedcred/core";
 * import { fetch as undiciFetch, ProxyAgent } from "undici";
 *
 * const dispatcher = new ProxyAgent("http://proxy.internal:3128");
 * const fetch: FetchLike = (url, init) => undiciFetch(url, { ...init, dispatcher });
 * const credential = new ClientAssertionCredential(tenantId, clientId, getAssertion, { fetch });
 * ```
 */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string | undefined;
    signal: AbortSignal;
    redirect?: "manual";
  },
) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  body?: WebBodyLike | null;
  /** `true` when the fetch followed a redirect after all. */
  redirected?: boolean;
  url?: string;
  text(): Promise<string>;
}>;

/** Sends through an injected `fetch`, which decodes the body itself: the cap counts its output. */
export async function sendWithFetch(
  fetchImpl: FetchLike,
  request: OutgoingRequest,
  followedRedirect: (finalUrl: string | undefined) => Error,
): Promise<ReceivedResponse> {
  let response: Awaited<ReturnType<FetchLike>>;
  try {
    response = await fetchImpl(request.url.href, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
      redirect: "manual",
    });
  } catch (error) {
    throw request.failure(error);
  }
  const cancel = (): void => {
    try {
      response.body
        ?.getReader()
        .cancel()
        .catch(() => {});
    } catch {
      // A locked body is being read by someone else, who will end it.
    }
  };
  if (isRedirect(response.status)) {
    cancel();
    throw request.redirect(response.status, response.headers.get("location"));
  }
  if (response.redirected === true) {
    cancel();
    throw followedRedirect(response.url);
  }
  let body: string;
  try {
    if (response.body) {
      body = await readWebBody(response.body, request.limit);
    } else {
      body = await response.text();
      if (Buffer.byteLength(body) > request.limit.maxBodyBytes) throw request.limit.tooLarge();
    }
  } catch (error) {
    throw request.failure(error);
  }
  return { status: response.status, headers: response.headers, body };
}
