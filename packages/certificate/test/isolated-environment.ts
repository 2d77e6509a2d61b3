// Every test file starts without the machine's certificate variables: whatever a test needs,
// it sets itself.
for (const name of [
  "AZURE_CLIENT_CERTIFICATE_PATH",
  "AZURE_CLIENT_CERTIFICATE_PASSWORD",
  "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
]) {
  delete process.env[name];
}
