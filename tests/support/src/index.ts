export { type Azurite, startAzurite } from "./azurite.js";
