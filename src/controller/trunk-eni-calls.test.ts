import { describe, expect, it } from 'vitest';
import { awsErrorCode } from './ec2-gateway.js';
import { highestFreeDeviceIndex } from './trunk-eni-calls.js';

const attached = (deviceIndex: number) => ({
  networkInterfaceId: `eni-${String(deviceIndex)}`,
  interfaceType: 'interface',
  deviceIndex,
  attachmentStatus: 'attached',
});

describe('trunk placement and AWS errors', () => {
  it('puts the trunk at the highest device index the type leaves free', () => {
    expect(highestFreeDeviceIndex([attached(0)], 3)).toBe(2);
    expect(highestFreeDeviceIndex([attached(0), attached(2)], 3)).toBe(1);
    expect(highestFreeDeviceIndex([attached(0), attached(1), attached(2)], 3)).toBeUndefined();
  });

  it('reads the AWS error code of SDK errors only', () => {
    const sdkError = (name: string) =>
      Object.assign(new Error('x'), { name, $metadata: { httpStatusCode: 503 } });
    expect(awsErrorCode(sdkError('RequestLimitExceeded'))).toBe('RequestLimitExceeded');
    expect(awsErrorCode(new Error('plain'))).toBeUndefined();
  });
});
