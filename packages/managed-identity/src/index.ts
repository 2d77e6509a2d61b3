export { DEFAULT_AUDIENCE } from "./exchange-audience.js";
export { fromManagedIdentity, type ManagedIdentityOptions } from "./from-managed-identity.js";
export {
  AZURE_POD_IDENTITY_AUTHORITY_HOST,
  IDENTITY_ENDPOINT,
  IDENTITY_HEADER,
} from "./identity-endpoint.js";
