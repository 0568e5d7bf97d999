import { expect } from 'chai';
import { volumeLabels } from '../../../src/core/app-volumes.ts';
import { containerLabels } from '../../../src/core/naming.ts';
import {
  chownTimeoutMs,
  volumeHelperLabel,
  volumeHelperLabels,
  volumeHelperLimits,
} from '../../../src/workers/apps/app-volumes.ts';

/** What a volume helper container carries: labels deletion finds it by, and limits. */
describe('volume helper containers', () => {
  const scope = { installation: 'i1', node: 'n1' };

  it('are labelled with the app and its uid, never as an app container (reconciliation lists those)', () => {
    const labels = volumeHelperLabels({ scope }, { app: 'notes', uid: 'u1' });
    expect(labels[volumeHelperLabel]).to.equal('notes');
    expect(labels[volumeLabels.appUid]).to.equal('u1');
    expect(labels[containerLabels.installation]).to.equal('i1');
    expect(labels).to.not.have.property(containerLabels.app);
    expect(labels).to.not.have.property(containerLabels.role);
  });

  it('run with bounded memory, CPU and processes, and a chown has a minute', () => {
    expect(volumeHelperLimits).to.deep.equal({
      Memory: 256 * 1024 * 1024,
      MemorySwap: 256 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 64,
    });
    expect(chownTimeoutMs).to.equal(60_000);
  });
});
