import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * What a SigV4 verifier needs of an incoming request, as it came off the wire.
 *
 * @example
 * ```ts
 * const request: SignedRequest = { method: "POST", target: incoming.url, rawHeaders: incoming.rawHeaders, body };
 * ```
 */
export interface SignedRequest {
  method: string;
  /** The request target as sent: path and query string, still percent-encoded. */
  target: string;
  /** Node's `rawHeaders`: alternating names and values, repeats kept. */
  rawHeaders: readonly string[];
  body: string;
}

/**
 * A refusal in AWS terms: the error code, its message and the HTTP status.
 *
 * @example
 * ```ts
 * const result = verifySigV4(request, options);
 * if (!result.ok) console.log(result.code, result.status); // "SignatureDoesNotMatch" 403
 * ```
 */
export interface SigV4Failure {
  ok: false;
  code:
    | "MissingAuthenticationToken"
    | "IncompleteSignature"
    | "InvalidClientTokenId"
    | "SignatureDoesNotMatch"
    | "ExpiredToken";
  message: string;
  status: number;
  accessKeyId?: string;
}

/**
 * A request whose signature checked out.
 *
 * @example
 * ```ts
 * const result = verifySigV4(request, options);
 * if (result.ok) console.log(result.accessKeyId, result.key);
 * ```
 */
export interface SigV4Success<Key> {
  ok: true;
  accessKeyId: string;
  key: Key;
}

/**
 * Options of {@link verifySigV4}.
 *
 * @example
 * ```ts
 * const options: SigV4Options<AwsPrincipal> = { region: "us-east-1", service: "sts", lookup: (id) => principals.get(id) };
 * ```
 */
export interface SigV4Options<Key> {
  /** The region this endpoint serves; the credential scope must name it. */
  region: string;
  /** The signing name of the service (`sts`). */
  service: string;
  /** Looks a key id up: its secret, and the session token it requires (temporary keys). */
  lookup(
    accessKeyId: string,
  ): (Key & { secretAccessKey: string; sessionToken?: string; expiresAt?: Date }) | undefined;
  /** Defaults to `Date.now()`. */
  now?: number;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const MAX_SKEW_MILLISECONDS = 15 * 60 * 1000;
const SIGNATURE_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN = "The security token included in the request is invalid.";

function sha256Hex(data: string): string {
  return createHash("sha256").update(data, "utf8").digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

/** RFC 3986 encoding: everything but unreserved characters, as the SigV4 spec asks. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Non-S3 services encode each path segment twice: the wire form is encoded once more. */
function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith("/") ? "/" : "";
  return `/${segments.map(uriEncode).join("/")}${trailing}`;
}

function canonicalQuery(query: string): string {
  if (!query) return "";
  return query
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => {
      const index = pair.indexOf("=");
      const name = index === -1 ? pair : pair.slice(0, index);
      const value = index === -1 ? "" : pair.slice(index + 1);
      return [uriEncode(safeDecode(name)), uriEncode(safeDecode(value))] as const;
    })
    .filter(([name]) => name !== "X-Amz-Signature")
    .sort(([nameA, valueA], [nameB, valueB]) =>
      nameA < nameB ? -1 : nameA > nameB ? 1 : valueA < valueB ? -1 : valueA > valueB ? 1 : 0,
    )
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

function headerMap(rawHeaders: readonly string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!.toLowerCase();
    const values = headers.get(name) ?? [];
    values.push(rawHeaders[index + 1]!.trim().replace(/\s+/g, " "));
    headers.set(name, values);
  }
  return headers;
}

/** `20261126T043645Z` to epoch milliseconds, or `undefined` if malformed. */
function parseAmzDate(value: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  return Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
}

function formatAmzDate(milliseconds: number): string {
  return new Date(milliseconds)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

function fail(
  code: SigV4Failure["code"],
  message: string,
  status: number,
  accessKeyId?: string,
): SigV4Failure {
  return { ok: false, code, message, status, ...(accessKeyId ? { accessKeyId } : {}) };
}

/** The SigV4 signing key: an HMAC chain over date, region, service and `aws4_request`. */
function signingKey(
  secretAccessKey: string,
  date: string,
  region: string,
  service: string,
): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), "aws4_request");
}

/**
 * Verifies the `Authorization: AWS4-HMAC-SHA256 ...` header of a request, written from the AWS
 * Signature Version 4 specification (canonical request, string to sign, derived key), and answers
 * with the error code AWS would send when it does not check out.
 *
 * @example
 * ```ts
 * const result = verifySigV4(
 *   { method: "POST", target: request.url, rawHeaders: request.rawHeaders, body },
 *   { region: "us-east-1", service: "sts", lookup: (id) => keys.get(id) },
 * );
 * if (!result.ok) console.log(result.code); // "SignatureDoesNotMatch"
 * ```
 */
export function verifySigV4<Key>(
  request: SignedRequest,
  options: SigV4Options<Key>,
): SigV4Success<Key> | SigV4Failure {
  const now = options.now ?? Date.now();
  const headers = headerMap(request.rawHeaders);
  const authorization = headers.get("authorization")?.join(",");
  if (!authorization)
    return fail("MissingAuthenticationToken", "Request is missing Authentication Token", 403);
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    return fail(
      "IncompleteSignature",
      `Unsupported AWS 'algorithm': '${authorization.split(" ")[0]}'`,
      400,
    );
  }
  const parameters = new Map<string, string>();
  for (const part of authorization.slice(ALGORITHM.length + 1).split(",")) {
    const index = part.indexOf("=");
    if (index > 0) parameters.set(part.slice(0, index).trim(), part.slice(index + 1).trim());
  }
  for (const required of ["Credential", "SignedHeaders", "Signature"]) {
    if (!parameters.get(required)) {
      return fail(
        "IncompleteSignature",
        `Authorization header requires '${required}' parameter. Authorization=${authorization}`,
        400,
      );
    }
  }
  const credential = parameters.get("Credential")!;
  const scopeParts = credential.split("/");
  if (scopeParts.length !== 5 || scopeParts[4] !== "aws4_request") {
    return fail(
      "IncompleteSignature",
      `Credential should have the form <access key id>/<date>/<region>/<service>/aws4_request, not '${credential}'.`,
      400,
    );
  }
  const [accessKeyId, scopeDate, scopeRegion, scopeService] = scopeParts as [
    string,
    string,
    string,
    string,
  ];
  const key = options.lookup(accessKeyId);
  if (!key) return fail("InvalidClientTokenId", INVALID_TOKEN, 403, accessKeyId);

  const amzDate = headers.get("x-amz-date")?.[0];
  const httpDate = headers.get("date")?.[0];
  const requestTime = amzDate ? parseAmzDate(amzDate) : httpDate ? Date.parse(httpDate) : undefined;
  if (requestTime === undefined || Number.isNaN(requestTime)) {
    return fail(
      "IncompleteSignature",
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
      400,
      accessKeyId,
    );
  }
  const requestStamp = amzDate ?? formatAmzDate(requestTime);
  if (requestTime < now - MAX_SKEW_MILLISECONDS) {
    return fail(
      "SignatureDoesNotMatch",
      `Signature expired: ${requestStamp} is now earlier than ${formatAmzDate(now - MAX_SKEW_MILLISECONDS)} (${formatAmzDate(now)} - 15 min.)`,
      403,
      accessKeyId,
    );
  }
  if (requestTime > now + MAX_SKEW_MILLISECONDS) {
    return fail(
      "SignatureDoesNotMatch",
      `Signature not yet current: ${requestStamp} is still later than ${formatAmzDate(now + MAX_SKEW_MILLISECONDS)} (${formatAmzDate(now)} + 15 min.)`,
      403,
      accessKeyId,
    );
  }
  if (scopeDate !== requestStamp.slice(0, 8)) {
    return fail(
      "SignatureDoesNotMatch",
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${requestStamp.slice(0, 8)}', from '${requestStamp}'.`,
      403,
      accessKeyId,
    );
  }
  if (scopeRegion !== options.region) {
    return fail(
      "SignatureDoesNotMatch",
      "Credential should be scoped to a valid region. ",
      403,
      accessKeyId,
    );
  }
  if (scopeService !== options.service) {
    return fail(
      "SignatureDoesNotMatch",
      `Credential should be scoped to correct service: '${options.service}'. `,
      403,
      accessKeyId,
    );
  }

  const signedHeaders = parameters.get("SignedHeaders")!.split(";");
  if (!signedHeaders.includes("host")) {
    return fail(
      "SignatureDoesNotMatch",
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
      403,
      accessKeyId,
    );
  }
  const queryIndex = request.target.indexOf("?");
  const path = queryIndex === -1 ? request.target : request.target.slice(0, queryIndex);
  const query = queryIndex === -1 ? "" : request.target.slice(queryIndex + 1);
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${(headers.get(name) ?? []).join(",")}\n`)
    .join("");
  const payloadHash = headers.get("x-amz-content-sha256")?.[0] ?? sha256Hex(request.body);
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalUri(path),
    canonicalQuery(query),
    canonicalHeaders,
    signedHeaders.join(";"),
    payloadHash,
  ].join("\n");
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const stringToSign = [ALGORITHM, requestStamp, scope, sha256Hex(canonicalRequest)].join("\n");
  const expected = createHmac(
    "sha256",
    signingKey(key.secretAccessKey, scopeDate, scopeRegion, scopeService),
  )
    .update(stringToSign, "utf8")
    .digest();
  const provided = Buffer.from(parameters.get("Signature")!, "hex");
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    return fail("SignatureDoesNotMatch", SIGNATURE_MISMATCH, 403, accessKeyId);
  }

  // Temporary keys are only valid with their session token, checked once the signature holds.
  const sessionToken =
    headers.get("x-amz-security-token")?.[0] ??
    new URLSearchParams(query).get("X-Amz-Security-Token") ??
    undefined;
  if ((key.sessionToken ?? undefined) !== sessionToken) {
    return fail("InvalidClientTokenId", INVALID_TOKEN, 403, accessKeyId);
  }
  if (key.expiresAt && key.expiresAt.getTime() <= now) {
    return fail(
      "ExpiredToken",
      "The security token included in the request is expired",
      403,
      accessKeyId,
    );
  }
  return { ok: true, accessKeyId, key };
}
