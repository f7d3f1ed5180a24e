import { fileURLToPath } from "node:url";

/**
 * The compiled schema (a FileDescriptorSet made by `buf build` in `npm run generate`), with
 * the real file names and imports, which server reflection needs to describe services
 * that use messages of other packages. Both src/ and dist/ sit next to descriptors/.
 */
export const descriptorSetPath = fileURLToPath(new URL("../descriptors/payments.binpb", import.meta.url));
