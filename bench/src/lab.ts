/**
 * What the emulator process set up, as every client process gets it: where Entra listens, the
 * identities it knows, the assertion it accepts, and where to count and steer it.
 */
export interface Lab {
  /** Entra over HTTPS on loopback, tokens of an hour: every figure but the refresh. */
  authorityHost: string;
  /** A second Entra on the same CA whose tokens live `shortLifetimeSeconds`: the refresh figure. */
  shortLivedAuthorityHost: string;
  shortLifetimeSeconds: number;
  /** The emulator process's control server (plain HTTP on loopback): counts and faults. */
  controlUrl: string;
  tenantId: string;
  clientId: string;
  /** Further tenants holding the same app, for the many-keys figure (tenants x scopes). */
  manyKeyTenants: string[];
  scope: string;
  /** A federated assertion both Entras accept for the next two hours (the issuer's RS256 JWT). */
  assertion: string;
  /** A file holding `assertion`: the workload-identity token file of the file-provider figures. */
  tokenFile: string;
  /** The CA of both Entras, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
}

/** Which Entra of the lab a count or a fault is about. */
export type EntraName = "main" | "short";

/** What the emulator has served so far, per Entra. */
export interface EntraCounts {
  /** Token requests (POST .../oauth2/v2.0/token), whatever the answer. */
  tokenRequests: number;
  /** Every request but the emulator's own admin routes (discovery documents included). */
  requests: number;
}
