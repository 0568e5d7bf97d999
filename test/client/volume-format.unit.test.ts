import { expect } from 'chai';
import { volumeRows, withoutVolume, withVolume } from '../../src/client/volume-commands.ts';

describe('gasper volumes (lists and text)', () => {
  const current = [
    { name: 'data', path: '/data', size: 1024, usedBytes: 5 * 1024 ** 2, overSize: false },
    { name: 'cache', path: '/var/cache/app', size: null, usedBytes: null, overSize: false },
  ];

  it('adds a volume, sending the others back as PATCH takes them', () => {
    expect(withVolume(current, { name: 'uploads', path: '/uploads', size: 10 })).to.deep.equal([
      { name: 'data', path: '/data', size: 1024 },
      { name: 'cache', path: '/var/cache/app' },
      { name: 'uploads', path: '/uploads', size: 10 },
    ]);
  });

  it('changes the path of a volume it already has', () => {
    expect(withVolume(current, { name: 'data', path: '/srv/data' })).to.deep.equal([
      { name: 'cache', path: '/var/cache/app' },
      { name: 'data', path: '/srv/data' },
    ]);
  });

  it('unmounts one, or says the app has no such volume', () => {
    expect(withoutVolume(current, 'data')).to.deep.equal([{ name: 'cache', path: '/var/cache/app' }]);
    expect(() => withoutVolume(current, 'nope')).to.throw('the app declares no volume "nope"');
  });

  it('lists what each uses, and one over its size', () => {
    expect(
      volumeRows([...current, { name: 'big', path: '/big', size: 1, usedBytes: 3 * 1024 ** 2, overSize: true }]).split(
        '\n',
      ),
    ).to.deep.equal([
      'VOLUME  PATH            SIZE      USED',
      'data    /data           1024 MiB  5.0 MiB',
      'cache   /var/cache/app  -         not measured yet',
      'big     /big            1 MiB     3.0 MiB (over its size)',
    ]);
  });
});
