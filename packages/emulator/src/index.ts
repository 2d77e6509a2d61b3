export type { Handler, ListenOptions, RunningServer } from "./http.js";
export type { SigningKey } from "./keys.js";
export { createSigningKey } from "./keys.js";
export type { TlsAuthority } from "./tls.js";
export { createTlsAuthority } from "./tls.js";
