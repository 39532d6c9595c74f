import { describe, expect, it } from 'vitest';
import { AnnotationError } from '../errors.js';
import { decodePodEniAnnotation, encodePodEniAnnotation } from './pod-eni-annotation.js';

const upstreamExample =
  '[{"eniId":"eni-00000000000000000","ifAddress":"FF:FF:FF:FF:FF:FF","privateIp":"192.168.0.15","ipv6Addr":"2600::","vlanId":1,"subnetCidr":"192.168.0.0/16","subnetV6Cidr":"2600::/64","associationID":"trunk-assoc-0000000000000000"}]';

describe('vpc.amazonaws.com/pod-eni', () => {
  it('round-trips the upstream example byte for byte', () => {
    expect(encodePodEniAnnotation(decodePodEniAnnotation(upstreamExample))).toBe(upstreamExample);
  });

  it('writes every key in upstream order, empty strings included', () => {
    const text = encodePodEniAnnotation([
      {
        associationID: 'a',
        vlanId: 2,
        subnetV6Cidr: '',
        subnetCidr: '10.0.0.0/16',
        ipv6Addr: '',
        privateIp: '10.0.0.5',
        ifAddress: 'm',
        eniId: 'e',
      },
    ]);
    expect(text).toBe(
      '[{"eniId":"e","ifAddress":"m","privateIp":"10.0.0.5","ipv6Addr":"","vlanId":2,"subnetCidr":"10.0.0.0/16","subnetV6Cidr":"","associationID":"a"}]',
    );
  });

  it('reads absent keys as empty, as Go does', () => {
    expect(decodePodEniAnnotation('[{"eniId":"e","vlanId":3}]')[0]).toMatchObject({
      eniId: 'e',
      vlanId: 3,
      ipv6Addr: '',
    });
  });

  it.each(['not json', '{}', '[1]', '[{"vlanId":"1"}]', '[{"vlanId":5000}]', '[{"eniId":7}]'])(
    'rejects %s',
    (text) => {
      expect(() => decodePodEniAnnotation(text)).toThrow(AnnotationError);
    },
  );
});
