import { expect } from 'chai';
import { loadConfig } from '../../src/core/config.ts';
import { linkedUrlVariable, newBackupId } from '../../src/core/database-naming.ts';
import { connectionUrl, engineIdentifiers, engineImage, engineNames, engines } from '../../src/core/engines.ts';

describe('database engines (pure)', () => {
  const c = { database: 'shop_db', user: 'u_shop_db', password: 'p4ss_w-rd' };

  it('lists the engines that can run here, and no MongoDB', () => {
    expect(engineNames).to.deep.equal(['postgres', 'mysql', 'redis']);
  });

  it('builds connection URLs per engine', () => {
    expect(connectionUrl(engines.postgres!, c, '127.0.0.1', 15001)).to.equal(
      'postgres://u_shop_db:p4ss_w-rd@127.0.0.1:15001/shop_db',
    );
    expect(connectionUrl(engines.mysql!, c, 'gasper-db-shop-db', 3306)).to.equal(
      'mysql://u_shop_db:p4ss_w-rd@gasper-db-shop-db:3306/shop_db',
    );
    expect(connectionUrl(engines.redis!, c, '127.0.0.1', 15002)).to.equal('redis://default:p4ss_w-rd@127.0.0.1:15002');
  });

  it('derives identifiers the engines accept (no role name starting with pg_)', () => {
    expect(engineIdentifiers('pg-main')).to.deep.equal({ database: 'pg_main', user: 'u_pg_main' });
  });

  it('names the env variable of a linked database', () => {
    expect(engines.postgres!.urlVariable).to.equal('DATABASE_URL');
    expect(engines.redis!.urlVariable).to.equal('REDIS_URL');
    expect(linkedUrlVariable('cache-2')).to.equal('CACHE_2_URL');
  });

  it('takes the image from configuration, else <prefix>/<engine>:latest', () => {
    expect(engineImage('postgres', { imagePrefix: 'gasper', databaseImages: {} })).to.equal('gasper/postgres:latest');
    expect(engineImage('postgres', { imagePrefix: 'gasper', databaseImages: { postgres: 'postgres:15' } })).to.equal(
      'postgres:15',
    );
  });

  it('keeps passwords out of argv: they travel in env or stdin', () => {
    for (const engine of Object.values(engines)) {
      const execs = [
        engine.createUser?.(c),
        engine.loginCheck(c),
        engine.backup(c),
        engine.restore(c),
        engine.afterRestore?.(c),
      ];
      for (const exec of execs) if (exec) expect(exec.cmd.join(' ')).not.to.include(c.password);
    }
    expect(engines.postgres!.createUser!(c).stdin).to.include(`PASSWORD '${c.password}'`);
  });

  it('makes backup ids that sort by time and are safe in URLs and job ids', () => {
    const early = newBackupId(new Date('2030-01-02T03:04:05.678Z'));
    expect(early).to.match(/^20300102t030405z-[0-9a-f]{4}$/);
    expect(early < newBackupId(new Date('2030-01-02T03:04:06Z'))).to.equal(true);
  });
});

describe('database configuration', () => {
  it('parses GASPER_DB_PORTS and GASPER_DATABASE_IMAGES, naming the variable on a bad value', () => {
    const config = loadConfig({ GASPER_DB_PORTS: '20000-20010', GASPER_DATABASE_IMAGES: 'postgres=postgres:15' });
    expect(config.databases.ports).to.deep.equal({ min: 20000, max: 20010 });
    expect(config.databases.images).to.deep.equal({ postgres: 'postgres:15' });
    expect(loadConfig({}).databases.ports).to.deep.equal({ min: 15000, max: 19999 });
    expect(() => loadConfig({ GASPER_DB_PORTS: '20010-20000' })).to.throw(/GASPER_DB_PORTS/);
    expect(() => loadConfig({ GASPER_DATABASE_IMAGES: 'postgres' })).to.throw(/GASPER_DATABASE_IMAGES/);
  });
});
