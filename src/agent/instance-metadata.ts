/**
 * What the agent learns about its instance from the instance metadata service (IMDSv2, as
 * ipamd does): instance id, region, the primary interface (MAC → interface id), its address
 * and subnet. Plain HTTP to 169.254.169.254; the node's default route leads there.
 */
const metadataUrl = 'http://169.254.169.254';

export interface InstanceFacts {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly region: string;
  readonly availabilityZone: string;
  readonly privateIp: string;
  readonly primaryInterfaceId: string;
  readonly subnetCidr: string;
}

async function fetchText(path: string, token: string): Promise<string> {
  const response = await fetch(`${metadataUrl}${path}`, {
    headers: { 'X-aws-ec2-metadata-token': token },
    signal: AbortSignal.timeout(5_000),
  });
  if (!response.ok) throw new Error(`instance metadata ${path}: HTTP ${String(response.status)}`);
  return (await response.text()).trim();
}

export async function readInstanceFacts(): Promise<InstanceFacts> {
  const tokenResponse = await fetch(`${metadataUrl}/latest/api/token`, {
    method: 'PUT',
    headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '21600' },
    signal: AbortSignal.timeout(5_000),
  });
  if (!tokenResponse.ok)
    throw new Error(`instance metadata token: HTTP ${String(tokenResponse.status)}`);
  const token = await tokenResponse.text();
  const get = (path: string) => fetchText(`/latest/meta-data/${path}`, token);
  const mac = await get('mac');
  const [instanceId, instanceType, availabilityZone, privateIp, interfaceId, subnetCidr] =
    await Promise.all([
      get('instance-id'),
      get('instance-type'),
      get('placement/availability-zone'),
      get('local-ipv4'),
      get(`network/interfaces/macs/${mac}/interface-id`),
      get(`network/interfaces/macs/${mac}/subnet-ipv4-cidr-block`),
    ]);
  return {
    instanceId,
    instanceType,
    region: await get('placement/region'),
    availabilityZone,
    privateIp,
    primaryInterfaceId: interfaceId,
    subnetCidr,
  };
}
