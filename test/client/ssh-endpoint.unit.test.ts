import { expect } from 'chai';
import { parseSshAddress, resolveSshEndpoint, sshRunArgs } from '../../src/client/ssh-endpoint.ts';

describe('parseSshAddress', () => {
  const cases: Array<[string, ReturnType<typeof parseSshAddress>]> = [
    ['ssh.example.com', { host: 'ssh.example.com' }],
    ['ssh.example.com:2200', { host: 'ssh.example.com', port: 2200 }],
    ['10.0.0.5:22', { host: '10.0.0.5', port: 22 }],
    ['[::1]:2222', { host: '::1', port: 2222 }],
    ['[::1]', { host: '::1' }],
    ['host:0', undefined],
    ['host:70000', undefined],
    ['host:', undefined],
    ['user@host', undefined],
    ['http://host', undefined],
    ['', undefined],
    ['a b', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} → ${JSON.stringify(expected)}`, () =>
      expect(parseSshAddress(text)).to.deep.equal(expected));
  }
});

describe('resolveSshEndpoint', () => {
  const apiUrl = 'https://gasper.example.com:8443';
  it('takes --ssh first, then GASPER_SSH, then the saved one', () => {
    expect(resolveSshEndpoint({ option: 'a:1', env: 'b:2', saved: 'c:3', apiUrl })).to.deep.include({
      host: 'a',
      port: 1,
    });
    expect(resolveSshEndpoint({ env: 'b:2', saved: 'c:3', apiUrl })).to.deep.include({ host: 'b', port: 2 });
    expect(resolveSshEndpoint({ saved: 'c', apiUrl })).to.deep.include({ host: 'c', port: 2222 });
  });
  it("falls back to the API's host on port 2222", () => {
    expect(resolveSshEndpoint({ apiUrl })).to.deep.include({ host: 'gasper.example.com', port: 2222 });
    expect(resolveSshEndpoint({ apiUrl: 'http://[::1]:3000' })).to.deep.include({ host: '::1', port: 2222 });
  });
  it('names the setting that is not an endpoint', () => {
    expect(() => resolveSshEndpoint({ env: 'http://x', apiUrl })).to.throw(
      'GASPER_SSH: "http://x" is not an SSH endpoint',
    );
    expect(() => resolveSshEndpoint({ apiUrl: 'not a url' })).to.throw(/no SSH endpoint: give --ssh/);
  });
});

describe('sshRunArgs', () => {
  const endpoint = { host: 'h', port: 2200, source: 'test' };
  it('forces a TTY for -t, none otherwise; -n without -i', () => {
    expect(sshRunArgs(endpoint, 'shop', { interactive: true, tty: true })).to.deep.equal([
      '-p',
      '2200',
      '-tt',
      'shop.run@h',
    ]);
    expect(sshRunArgs(endpoint, 'shop', { interactive: true, tty: false }, 'wc -l')).to.deep.equal([
      '-p',
      '2200',
      '-T',
      'shop.run@h',
      'wc -l',
    ]);
    expect(sshRunArgs(endpoint, 'shop', { interactive: false, tty: true }, 'top')).to.deep.equal([
      '-p',
      '2200',
      '-tt',
      '-n',
      'shop.run@h',
      'top',
    ]);
  });
});
