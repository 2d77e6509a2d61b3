/** The path of a PEM or PKCS#12 file holding the certificate and its private key. */
export const AZURE_CLIENT_CERTIFICATE_PATH = "AZURE_CLIENT_CERTIFICATE_PATH";
/** The password of that file (a PKCS#12 file, or an encrypted PEM key). */
export const AZURE_CLIENT_CERTIFICATE_PASSWORD = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/** `true` or `1` (any case): send the certificate chain in the `x5c` header. */
export const AZURE_CLIENT_SEND_CERTIFICATE_CHAIN = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
