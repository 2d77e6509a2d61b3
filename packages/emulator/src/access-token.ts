import { randomBytes } from "node:crypto";
import { nowSeconds, type SigningKey } from "./keys.js";

/** What an app access token is minted for. */
export interface AccessTokenGrant {
  tenantId: string;
  clientId: string;
  /** The service principal's object id: the token's `oid` and `sub`. */
  objectId: string;
  /** The resource from the scope, without `/.default`: the token's `aud`. */
  resource: string;
  roles?: readonly string[];
  lifetimeSeconds: number;
  /** The client declared the `cp1` capability (CAE): the token carries `xms_cc`. */
  clientCapable: boolean;
}

/** The v1 issuer Azure resources expect in app tokens. */
export function v1Issuer(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

function opaque(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}

/**
 * Mints a v1 app-only access token with the claims Entra puts in one (`aud`, `iss`, `appid`,
 * `appidacr`, `idp`, `idtyp`, `oid`, `sub`, `tid`, `roles`, `uti`, `rh`, `ver`, and `xms_cc`
 * for capable clients), RS256-signed with the tenant key.
 *
 * @example
 * ```ts
 * const token = await mintAccessToken(key, { tenantId, clientId, objectId, resource: "https://storage.azure.com", lifetimeSeconds: 3599, clientCapable: false });
 * ```
 */
export function mintAccessToken(key: SigningKey, grant: AccessTokenGrant): Promise<string> {
  const now = nowSeconds();
  const issuer = v1Issuer(grant.tenantId);
  return key.sign(
    {
      aud: grant.resource,
      iss: issuer,
      iat: now,
      nbf: now,
      exp: now + grant.lifetimeSeconds,
      aio: opaque(48),
      appid: grant.clientId,
      appidacr: "2",
      idp: issuer,
      idtyp: "app",
      oid: grant.objectId,
      rh: `0.${opaque(36)}.`,
      ...(grant.roles && grant.roles.length > 0 ? { roles: [...grant.roles] } : {}),
      sub: grant.objectId,
      tid: grant.tenantId,
      uti: opaque(16),
      ver: "1.0",
      ...(grant.clientCapable ? { xms_cc: ["cp1"] } : {}),
    },
    { x5t: key.kid },
  );
}
