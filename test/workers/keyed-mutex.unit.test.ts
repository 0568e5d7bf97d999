import { expect } from 'chai';
import { KeyedMutex } from '../../src/workers/keyed-mutex.ts';

/** A promise settled from outside, to hold a task open while the test looks. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every already-queued promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('KeyedMutex', function () {
  // A mutex that wrongly serialises would hang a test: fail fast instead.
  this.timeout(2000);

  it('runs tasks with the same key one after another, in order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const gate = deferred();
    const first = mutex.run('blog', async () => {
      log.push('first start');
      await gate.promise;
      log.push('first end');
      return 1;
    });
    const second = mutex.run('blog', async () => {
      log.push('second start');
      return 2;
    });
    await settle();
    expect(log).to.deep.equal(['first start']);
    gate.resolve();
    expect(await Promise.all([first, second])).to.deep.equal([1, 2]);
    expect(log).to.deep.equal(['first start', 'first end', 'second start']);
  });

  it('runs tasks with different keys concurrently', async () => {
    const mutex = new KeyedMutex();
    const gate = deferred();
    let otherRan = false;
    const blocked = mutex.run('blog', () => gate.promise);
    const other = mutex.run('shop', async () => {
      otherRan = true;
      return 'shop';
    });
    expect(await other).to.equal('shop');
    expect(otherRan).to.equal(true);
    gate.resolve();
    await blocked;
  });

  it('runs the next task after one that rejected, and passes the rejection to its caller', async () => {
    const mutex = new KeyedMutex();
    const gate = deferred();
    const failing = mutex.run('blog', async () => {
      await gate.promise;
      throw new Error('deploy failed');
    });
    let nextStarted = false;
    const next = mutex.run('blog', async () => {
      nextStarted = true;
      return 'deleted';
    });
    await settle();
    expect(nextStarted).to.equal(false);
    gate.resolve();
    let error: unknown;
    await failing.catch((err: unknown) => {
      error = err;
    });
    expect(error).to.be.instanceOf(Error).with.property('message', 'deploy failed');
    expect(await next).to.equal('deleted');
  });

  it('runs a task that throws synchronously as a rejection and goes on', async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.run('blog', () => {
      throw new Error('boom');
    });
    let error: unknown;
    await failing.catch((err: unknown) => {
      error = err;
    });
    expect(error).to.have.property('message', 'boom');
    expect(await mutex.run('blog', async () => 'ok')).to.equal('ok');
  });
});
