import type { HttpClientLike, HttpHeadersLike, PipelineResponseLike } from "./options.js";
import { readIterableBody } from "./transport-body.js";
import { isRedirect, type OutgoingRequest, type ReceivedResponse } from "./transport-node.js";

/**
 * Case-insensitive headers in the shape of `@azure/core-rest-pipeline`'s `HttpHeaders`, which
 * its clients read with `get`, `has`, `toJSON` and iteration.
 */
class PipelineHeaders implements HttpHeadersLike {
  readonly #entries = new Map<string, { name: string; value: string }>();

  constructor(headers: Record<string, string>) {
    for (const [name, value] of Object.entries(headers)) this.set(name, value);
  }

  get(name: string): string | undefined {
    return this.#entries.get(name.toLowerCase())?.value;
  }

  has(name: string): boolean {
    return this.#entries.has(name.toLowerCase());
  }

  set(name: string, value: string | number | boolean): void {
    this.#entries.set(name.toLowerCase(), { name, value: String(value) });
  }

  delete(name: string): void {
    this.#entries.delete(name.toLowerCase());
  }

  toJSON(options?: { preserveCase?: boolean }): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [key, entry] of this.#entries) {
      result[options?.preserveCase ? entry.name : key] = entry.value;
    }
    return result;
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const [key, entry] of this.#entries) yield [key, entry.value];
  }
}

function destroyStream(stream: NodeJS.ReadableStream | undefined): void {
  (stream as { destroy?: () => void } | undefined)?.destroy?.();
}

/**
 * Sends through an injected `HttpClient` of `@azure/core-rest-pipeline` (`createDefaultHttpClient()`),
 * which follows no redirects itself. The body is asked for as a stream so the cap applies
 * while it arrives; a client that answers `bodyAsText` instead is checked afterwards.
 */
export async function sendWithHttpClient(
  client: HttpClientLike,
  request: OutgoingRequest,
  requestId: string,
  timedOut: () => Error,
): Promise<ReceivedResponse> {
  let response: PipelineResponseLike;
  try {
    response = await client.sendRequest({
      url: request.url.href,
      method: request.method,
      headers: new PipelineHeaders(request.headers),
      body: request.body,
      timeout: request.timeoutInMs,
      withCredentials: false,
      requestId,
      abortSignal: request.signal,
      streamResponseStatusCodes: new Set([Number.POSITIVE_INFINITY]),
      allowInsecureConnection: request.url.protocol === "http:",
    });
  } catch (error) {
    // The client's own timeout throws an AbortError while fedcred's signal is still unaborted.
    if ((error as Error)?.name === "AbortError" && !request.signal.aborted) throw timedOut();
    throw request.failure(error);
  }
  const headers = {
    get: (name: string): string | null => response.headers.get(name) ?? null,
  };
  const stream = response.readableStreamBody;
  if (isRedirect(response.status)) {
    destroyStream(stream);
    throw request.redirect(response.status, headers.get("location"));
  }
  let body: string;
  try {
    if (stream !== undefined) {
      body = await readIterableBody(stream as AsyncIterable<unknown>, request.limit);
    } else {
      body = response.bodyAsText ?? "";
      if (Buffer.byteLength(body) > request.limit.maxBodyBytes) throw request.limit.tooLarge();
    }
  } catch (error) {
    destroyStream(stream);
    throw request.failure(error);
  }
  return { status: response.status, headers, body };
}
