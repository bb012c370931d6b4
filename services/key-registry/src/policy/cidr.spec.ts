import { invalidCidr } from './cidr';

describe('per-key CIDRs', () => {
  it.each([[['10.0.0.0/8']], [['192.0.2.7']], [['2001:db8::/32', '::1/128', '0.0.0.0/0']], [[]]])('accepts %j', (cidrs) => {
    expect(invalidCidr(cidrs)).toBeUndefined();
  });

  it.each([
    [['10.0.0.0/33'], 'allowedCidrs[0]'],
    [['10.0.0.0/8', '2001:db8::/129'], 'allowedCidrs[1]'],
    [['10.0.0.0/-1'], 'allowedCidrs[0]'],
    [['10.0.0.0/8/1'], 'allowedCidrs[0]'],
    [['10.0.0.0/'], 'allowedCidrs[0]'],
    [['10.0.0.0/ 8'], 'allowedCidrs[0]'],
    [['example.ac.jp'], 'allowedCidrs[0]'],
    [['300.0.0.1'], 'allowedCidrs[0]'],
  ])('refuses %j naming %s', (cidrs, field) => {
    expect(invalidCidr(cidrs)).toMatch(new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: `));
  });
});
