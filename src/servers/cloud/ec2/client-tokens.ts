/**
 * EC2 idempotency: a call repeated with the same `ClientToken` (the aws CLI and the SDK fill one
 * in for CreateNetworkInterface, RunInstances and the trunk calls) gets the first call's answer
 * and changes nothing, so a client retrying after a lost answer does not create twice.
 */
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import type { Ec2Context } from './ec2-context.js';

/** Echoes a previous answer for a repeated client token (EC2 idempotency). */
export function withClientToken(
  action: string,
  params: QueryParams,
  context: Ec2Context,
  work: () => Record<string, XmlValue>,
): Record<string, XmlValue> {
  const token = params.get('ClientToken');
  if (token === undefined) return work();
  const previous = context.store.compute.clientTokenResponse(action, token);
  if (previous !== undefined) return JSON.parse(previous) as Record<string, XmlValue>;
  const response = { ...work(), clientToken: token };
  context.store.compute.putClientTokenResponse(action, token, JSON.stringify(response));
  return response;
}
