import { catalog } from "@payments/catalog/catalog";
import type {
  GetAccountResponse,
  GetPaymentRequest,
  GetPaymentResponse,
  ListPaymentsRequest,
  ListPaymentsResponse,
  ListServicesResponse,
} from "@payments/contracts/gen/payments/v1/payment_service";
import type { TraceScope } from "@payments/common/traceScope";
import type { Caller } from "../auth/tokenVerifier.js";
import { normalisePageSize, validatePageToken, validatePaymentId } from "../domain/queries.js";
import { toPayableService } from "../domain/payableService.js";
import type { PaymentServiceDeps } from "./deps.js";

/** One of the caller's payments; Processing answers NOT_FOUND for another user's. */
export async function getPayment(deps: PaymentServiceDeps, caller: Caller, request: GetPaymentRequest, scope: TraceScope): Promise<GetPaymentResponse> {
  const paymentId = validatePaymentId(request.paymentId);
  const { payment } = await deps.processing.getPayment({ userId: caller.userId, paymentId }, scope.context);
  return { payment };
}

/** The caller's payments, newest first; the page token is Processing's and passed through untouched. */
export async function listPayments(deps: PaymentServiceDeps, caller: Caller, request: ListPaymentsRequest, scope: TraceScope): Promise<ListPaymentsResponse> {
  const pageSize = normalisePageSize(request.pageSize);
  const pageToken = validatePageToken(request.pageToken);
  const page = await deps.processing.listPayments({ userId: caller.userId, pageSize, pageToken }, scope.context);
  return { payments: page.payments, nextPageToken: page.nextPageToken };
}

/** The caller's balances per currency. */
export async function getAccount(deps: PaymentServiceDeps, caller: Caller, scope: TraceScope): Promise<GetAccountResponse> {
  const { balances } = await deps.processing.getAccount({ userId: caller.userId }, scope.context);
  return { balances };
}

/** The catalog; static, but still only for authenticated callers. */
export async function listServices(): Promise<ListServicesResponse> {
  return { services: catalog.map(toPayableService) };
}
