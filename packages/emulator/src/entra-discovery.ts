/**
 * The v2 OpenID configuration of a tenant on the emulator, in the shape MSAL reads.
 *
 * @example
 * ```ts
 * sendJson(response, 200, openIdConfigurationV2(entra.url, tenantId));
 * ```
 */
export function openIdConfigurationV2(baseUrl: string, tenant: string): Record<string, unknown> {
  return {
    token_endpoint: `${baseUrl}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: [
      "client_secret_post",
      "private_key_jwt",
      "client_secret_basic",
    ],
    jwks_uri: `${baseUrl}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${baseUrl}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${baseUrl}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${baseUrl}/${tenant}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${baseUrl}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: [
      "sub",
      "iss",
      "aud",
      "exp",
      "iat",
      "nbf",
      "tid",
      "oid",
      "roles",
      "appid",
      "azp",
    ],
    tenant_region_scope: "EU",
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
  };
}

/**
 * The v1 OpenID configuration of a tenant: its `issuer` is the `https://sts.windows.net/{tenant}/`
 * form that v1 access tokens carry.
 *
 * @example
 * ```ts
 * sendJson(response, 200, openIdConfigurationV1(entra.url, tenantId));
 * ```
 */
export function openIdConfigurationV1(baseUrl: string, tenant: string): Record<string, unknown> {
  return {
    token_endpoint: `${baseUrl}/${tenant}/oauth2/token`,
    token_endpoint_auth_methods_supported: [
      "client_secret_post",
      "private_key_jwt",
      "client_secret_basic",
    ],
    jwks_uri: `${baseUrl}/common/discovery/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "token id_token", "token"],
    scopes_supported: ["openid"],
    issuer: `https://sts.windows.net/${tenant}/`,
    authorization_endpoint: `${baseUrl}/${tenant}/oauth2/authorize`,
    claims_supported: ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "roles", "appid"],
    cloud_instance_name: "microsoftonline.com",
  };
}

/**
 * The instance discovery answer MSAL asks `/common/discovery/instance` for.
 *
 * @example
 * ```ts
 * sendJson(response, 200, instanceDiscovery(entra.url, "my-tenant"));
 * ```
 */
export function instanceDiscovery(baseUrl: string, tenant: string): Record<string, unknown> {
  const host = new URL(baseUrl).host;
  return {
    tenant_discovery_endpoint: `${baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
    "api-version": "1.1",
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
}
