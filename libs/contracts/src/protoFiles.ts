import { fileURLToPath } from "node:url";

/**
 * Folder holding the .proto sources. Both src/ and dist/ sit two levels below the
 * workspace root, so the same relative path works when run from source or from a build.
 */
export const protoRoot = fileURLToPath(new URL("../../../proto", import.meta.url));

/** Proto files served through gRPC server reflection, relative to {@link protoRoot}. */
export const publicProtoFiles = ["payments/v1/payment_service.proto"];
export const processingProtoFiles = ["payments/processing/v1/processing_service.proto"];
