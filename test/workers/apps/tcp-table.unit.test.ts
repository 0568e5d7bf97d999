import { expect } from 'chai';
import { establishedOnPort, listeningOnPort } from '../../../src/workers/apps/tcp-table.ts';
import { slotOf } from '../../../src/workers/apps/instances.ts';

// Port 8080 is 1F90; state 01 is ESTABLISHED, 0A LISTEN, 06 TIME_WAIT.
const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 1 1 0000000000000000 100 0 0 10 0
   1: 020011AC:1F90 010011AC:C350 01 00000000:00000000 00:00000000 00000000 10001        0 2 1 0000000000000000 20 4 30 10 -1
   2: 020011AC:1F90 010011AC:C351 01 00000000:00000000 00:00000000 00000000 10001        0 3 1 0000000000000000 20 4 30 10 -1
   3: 020011AC:1F90 010011AC:C352 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   4: 020011AC:C353 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 10001        0 4 1 0000000000000000 20 4 30 10 -1
`;
const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF0000020011AC:1F90 0000000000000000FFFF0000010011AC:D000 01 00000000:00000000 00:00000000 00000000 10001 0 5 1
`;

describe('tcp-table', () => {
  it('counts established connections to the local port only (not listeners, TIME_WAIT or outgoing ones)', () => {
    expect(establishedOnPort(tcp, 8080)).to.equal(2);
  });
  it('reads tcp6 tables', () => {
    expect(establishedOnPort(tcp6, 8080)).to.equal(1);
  });
  it('finds nothing on another port, or in an empty table', () => {
    expect(establishedOnPort(tcp, 3000)).to.equal(0);
    expect(establishedOnPort('', 8080)).to.equal(0);
  });
  const listening: [string, string, number, boolean][] = [
    ['a listener on the port', tcp, 8080, true],
    ['connections but no listener (tcp6 table)', tcp6, 8080, false],
    ['a listener on another port only', tcp, 3000, false],
    ['an empty table', '', 8080, false],
  ];
  for (const [what, table, port, expected] of listening) {
    it(`listening on ${port}: ${expected} for ${what}`, () => expect(listeningOnPort(table, port)).to.equal(expected));
  }
});

describe('instance slots', () => {
  it('reads the slot from a container name', () => {
    expect(slotOf('gasper-blog-r000003-2')).to.equal(2);
    expect(slotOf('/gasper-blog-r000003-12')).to.equal(12);
    expect(slotOf('gasper-blog-r000003-build')).to.equal(undefined);
  });
});
