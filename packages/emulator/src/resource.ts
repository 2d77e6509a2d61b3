import type { IncomingMessage, ServerResponse } from "node:http";
import { createLocalJWKSet, errors, type JWK, jwtVerify } from "jose";
import { v1Issuer } from "./access-token.js";
import { listen, sendJson } from "./http.js";

/**
 * Configuration of {@link startResource}.
 *
 * @example
 * ```ts
 * const config: ResourceConfig = { entra, tenantId, audience: "https://storage.azure.com", roles: ["Storage.Read"], tls };
 * ```
 */
export interface ResourceConfig {
  /** Where the tenant's signing keys come from: the running Entra emulator (its `jwks()` is read per request, so rotations apply). */
  entra: { jwks(): { keys: JWK[] }; url?: string };
  tenantId: string;
  /** The `aud` tokens must carry, for example `https://storage.azure.com`. */
  audience: string;
  /** PEM certificate and key: the resource serves HTTPS, as Azure resources do. */
  tls?: { cert: string; key: string };
  host?: string;
  port?: number;
  /** App roles the caller must hold, all of them; a token without them gets 403. */
  roles?: string[];
  /** Allowed clock skew on `nbf` / `exp`. Defaults to 0. */
  clockSkewSeconds?: number;
}

/**
 * Who called the resource, as it answers a good token.
 *
 * @example
 * ```ts
 * const caller = (await response.json()) as ResourceCaller;
 * caller.appid;
 * ```
 */
export interface ResourceCaller {
  appid: string;
  oid: string;
  tid: string;
  roles: string[];
}

/**
 * A running protected resource.
 *
 * @example
 * ```ts
 * const resource: ProtectedResource = await startResource({ entra, tenantId, audience: "https://storage.azure.com", tls });
 * resource.counts.accepted;
 * ```
 */
export interface ProtectedResource {
  readonly url: string;
  readonly port: number;
  /** Requests answered 200 / refused. */
  readonly counts: { accepted: number; refused: number };
  close(): Promise<void>;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, "")}"`;
}

/**
 * Starts a resource server that accepts a bearer token only if it is an access token of the
 * Entra emulator for `audience` in `tenantId` (signature, `aud`, `iss`, `nbf`, `exp`), and answers
 * who called. Refusals are 401 with a `WWW-Authenticate: Bearer` challenge.
 *
 * @example
 * ```ts
 * const resource = await startResource({ entra, tenantId, audience: "https://storage.azure.com", tls });
 * const response = await fetch(resource.url, { headers: { authorization: `Bearer ${token}` } });
 * ```
 */
export async function startResource(config: ResourceConfig): Promise<ProtectedResource> {
  const counts = { accepted: 0, refused: 0 };
  const issuer = v1Issuer(config.tenantId);
  const authority = config.entra.url ?? "https://login.microsoftonline.com";
  const challenge = (error?: { code: string; description: string }): string => {
    const parts = [
      `authorization_uri=${quote(`${authority}/${config.tenantId}/oauth2/authorize`)}`,
      `resource_id=${quote(config.audience)}`,
    ];
    if (error)
      parts.push(`error=${quote(error.code)}`, `error_description=${quote(error.description)}`);
    return `Bearer ${parts.join(", ")}`;
  };

  const refuse = (
    response: ServerResponse,
    status: 401 | 403,
    error?: { code: string; description: string },
  ): void => {
    counts.refused += 1;
    sendJson(
      response,
      status,
      {
        error: error?.code ?? "missing_token",
        error_description: error?.description ?? "A bearer token is required.",
      },
      { "www-authenticate": challenge(error) },
    );
  };

  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const authorization = request.headers.authorization ?? "";
    const match = /^Bearer +(\S+)$/i.exec(authorization);
    if (!match?.[1]) {
      refuse(response, 401);
      return;
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1], createLocalJWKSet(config.entra.jwks()), {
        issuer,
        audience: config.audience,
        algorithms: ["RS256"],
        clockTolerance: config.clockSkewSeconds ?? 0,
        requiredClaims: ["exp", "nbf"],
      }));
    } catch (error) {
      const description =
        error instanceof errors.JWTExpired
          ? "The token is expired"
          : error instanceof errors.JWTClaimValidationFailed
            ? `The token's ${error.claim} claim is not valid`
            : "The token could not be verified";
      refuse(response, 401, { code: "invalid_token", description });
      return;
    }
    const roles = Array.isArray(payload.roles) ? (payload.roles as string[]) : [];
    const missing = (config.roles ?? []).filter((role) => !roles.includes(role));
    if (missing.length > 0) {
      refuse(response, 403, {
        code: "insufficient_scope",
        description: `Missing roles: ${missing.join(", ")}`,
      });
      return;
    }
    counts.accepted += 1;
    const caller: ResourceCaller = {
      appid: String(payload.appid ?? ""),
      oid: String(payload.oid ?? ""),
      tid: String(payload.tid ?? ""),
      roles,
    };
    sendJson(response, 200, caller);
  };

  const server = await listen(handler, { host: config.host, port: config.port, tls: config.tls });
  return { url: server.url, port: server.port, counts, close: () => server.close() };
}
