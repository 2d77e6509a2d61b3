export { AZURE_FEDERATED_TOKEN_FILE, type FromFileOptions, fromFile } from "./from-file.js";
