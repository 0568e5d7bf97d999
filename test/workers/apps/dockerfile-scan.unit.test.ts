// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text holds ${NAME} literally
import { expect } from 'chai';
import { imageProblem, scanDockerfile, substitute } from '../../../src/workers/apps/dockerfile-scan.ts';

const options = { ownRepository: 'gasper-app/inst-web', appPrefix: 'gasper-app/', buildArgs: { BASE: 'node:22' } };

describe('scanDockerfile: what a tenant Dockerfile may not name or fetch', () => {
  const rows: [what: string, dockerfile: string, refused: string | undefined][] = [
    ['a public image', 'FROM node:22\nRUN true', undefined],
    ['a runtime image', 'FROM gasper/node:22', undefined],
    ["the app's own earlier release", 'FROM gasper-app/inst-web:r1', undefined],
    ["another app's image", 'FROM gasper-app/inst-db:r1', "another app's image"],
    ["another app's image, Docker Hub spelling", 'FROM docker.io/gasper-app/inst-db:r1', "another app's image"],
    ["another app's image, upper case", 'FROM Gasper-App/inst-db', "another app's image"],
    ["another app's image by digest", 'FROM gasper-app/inst-db@sha256:abc', "another app's image"],
    ['an app whose name starts like ours', 'FROM gasper-app/inst-web2:r1', "another app's image"],
    ['an image id', 'FROM sha256:0123456789abcdef', 'an image id'],
    ['a short image id', 'FROM 0123456789ab', 'an image id'],
    ['FROM through a global ARG default', 'ARG B=gasper-app/inst-db:r1\nFROM $B', "another app's image"],
    ['FROM through ${ARG:-default}', 'FROM ${X:-gasper-app/inst-db}', "another app's image"],
    ['FROM through a build arg', 'ARG BASE=alpine\nFROM ${BASE}', undefined],
    ['an ARG set by a build arg to another app', 'ARG BASE\nFROM $BASE', undefined],
    ['a variable form not understood', 'FROM ${B/x/y}', 'cannot check'],
    ['COPY --from a stage', 'FROM node AS build\nRUN x\nFROM node\nCOPY --from=build /a /a', undefined],
    ['COPY --from a stage index', 'FROM node\nFROM node\nCOPY --from=0 /a /a', undefined],
    ['COPY --from another app', 'FROM node\nCOPY --from=gasper-app/inst-db:r1 /app /x', 'COPY --from'],
    [
      'COPY --chown then --from another app',
      'FROM node\nCOPY --chown=1:1 --from=gasper-app/inst-db /a /b',
      'COPY --from',
    ],
    ['COPY --from through a stage ARG', 'FROM node\nARG S=gasper-app/inst-db\nCOPY --from=$S /a /b', 'COPY --from'],
    [
      'RUN --mount from another app',
      'FROM node\nRUN --mount=type=bind,from=gasper-app/inst-db,target=/x cat /x',
      'RUN --mount',
    ],
    ['ONBUILD COPY --from another app', 'FROM node\nONBUILD COPY --from=gasper-app/inst-db /a /b', 'COPY --from'],
    ['a continuation line', 'FROM \\\n  gasper-app/inst-db', "another app's image"],
    ['the escape directive', '# escape=`\nFROM node\nCOPY `\n  --from=gasper-app/inst-db /a /b', 'COPY --from'],
    ['ADD a local file', 'FROM node\nADD app.tar.gz /app', undefined],
    ['ADD http', 'FROM node\nADD http://169.254.169.254/latest/meta-data /m', 'use RUN curl or wget'],
    ['ADD https, JSON form', 'FROM node\nADD ["https://example.com/x", "/x"]', 'use RUN curl or wget'],
    ['ADD a URL through an ARG', 'FROM node\nARG U=http://127.0.0.1:6379/\nADD $U /x', 'use RUN curl or wget'],
    ['ADD git', 'FROM node\nADD git@github.com:a/b.git /x', 'use RUN curl or wget'],
    ['COPY of a URL-like name is a local path', 'FROM node\nCOPY http-server /x', undefined],
  ];
  for (const [what, dockerfile, refused] of rows)
    it(what, () => {
      const problems = scanDockerfile(dockerfile, {
        ...options,
        buildArgs: what.includes('build arg to another') ? { BASE: 'gasper-app/inst-db' } : options.buildArgs,
      });
      if (what.includes('build arg to another')) expect(problems.join()).to.include("another app's image");
      else if (refused === undefined) expect(problems).to.deep.equal([]);
      else expect(problems.join('\n')).to.include(refused);
    });

  it('substitute: unset names are empty, as in Docker', () => {
    expect(substitute('a${X}b$Y', new Map())).to.equal('ab');
    expect(substitute('${X:+set}', new Map([['X', '1']]))).to.equal('set');
  });

  it("imageProblem leaves the runtime images' prefix alone", () => {
    expect(imageProblem('gasper/python:3.12', options)).to.equal(undefined);
  });
});
