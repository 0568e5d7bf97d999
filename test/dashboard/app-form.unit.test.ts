import { expect } from 'chai';
import { cloneFailures } from '../support/clone-failures.ts';

interface AppFormModule {
  formFields: string[];
  formToRequest(values: Record<string, string>): { body: Record<string, unknown>; errors: Record<string, string> };
  placeFieldErrors(fields: Record<string, string>): { byField: Record<string, string>; other: string[] };
  cloneAdvice(error: unknown): string;
}

// A browser module, plain JavaScript: imported by URL so TypeScript does not look for its types.
const form: AppFormModule = await import(new URL('../../src/dashboard/public/js/app-form.js', import.meta.url).href);

const empty = {
  name: '',
  repo: '',
  branch: '',
  path: '',
  token: '',
  username: '',
  runtime: '',
  build: '',
  run: '',
  env: '',
};

describe('dashboard: the create form', function () {
  it('turns the fields into a POST /apps body, leaving empty optional fields out', function () {
    expect(
      form.formToRequest({ ...empty, name: ' hello ', repo: 'https://git.example/x.git', runtime: 'node' }),
    ).to.deep.equal({
      body: { name: 'hello', repo: { url: 'https://git.example/x.git' }, runtime: 'node' },
      errors: {},
    });
    const { body, errors } = form.formToRequest({
      name: 'hello',
      repo: 'https://git.example/x.git',
      branch: 'main',
      path: 'services/api',
      token: ' ghp_secret ',
      username: '',
      runtime: 'python',
      build: 'pip install -r requirements.txt\n\n  make assets  \r\n',
      run: 'python app.py',
      env: '# a comment\nGREETING=hi there\nURL=postgres://u:p@h/db?a=b\nEMPTY=\n',
    });
    expect(errors).to.deep.equal({});
    expect(body).to.deep.equal({
      name: 'hello',
      repo: { url: 'https://git.example/x.git', branch: 'main', path: 'services/api', token: 'ghp_secret' },
      runtime: 'python',
      build: ['pip install -r requirements.txt', 'make assets'],
      run: 'python app.py',
      env: { GREETING: 'hi there', URL: 'postgres://u:p@h/db?a=b', EMPTY: '' },
    });
  });

  it("sends the token's user with the token (Bitbucket's), and refuses a user without a token", function () {
    const values = { ...empty, name: 'b', repo: 'https://bitbucket.org/me/b.git', runtime: 'node' };
    expect(form.formToRequest({ ...values, token: 'app-pass', username: ' alice ' }).body.repo).to.deep.equal({
      url: 'https://bitbucket.org/me/b.git',
      token: 'app-pass',
      username: 'alice',
    });
    expect(form.formToRequest({ ...values, username: 'alice' }).errors).to.deep.equal({
      username: 'A user goes with an access token: enter the token too.',
    });
  });

  it('names the env line that is not KEY=VALUE, or sets a key twice', function () {
    expect(form.formToRequest({ ...empty, env: 'A=1\nno equals sign' }).errors).to.deep.equal({
      env: 'line 2: expected KEY=VALUE',
    });
    expect(form.formToRequest({ ...empty, env: '=value' }).errors).to.deep.equal({ env: 'line 1: expected KEY=VALUE' });
    expect(form.formToRequest({ ...empty, env: 'A=1\nA=2' }).errors).to.deep.equal({ env: 'line 2: A is set twice' });
  });

  it("places the API's field errors on the form's fields", function () {
    expect(
      form.placeFieldErrors({
        name: 'must be lowercase',
        'repo.url': 'not allowed',
        'repo.branch': 'bad branch',
        'repo.path': 'must stay inside the repository',
        'repo.token': 'a token is for https:// repositories',
        'repo.username': 'goes with repo.token',
        'repo.other': 'unknown',
        runtime: 'unknown runtime',
        'build.1': 'too long',
        run: 'too long',
        'env.1X': 'bad name',
        port: 'too big',
        '(body)': 'unknown field',
        repo: 'required',
      }),
    ).to.deep.equal({
      byField: {
        name: 'must be lowercase',
        repo: 'not allowed; required',
        branch: 'bad branch',
        path: 'must stay inside the repository',
        token: 'a token is for https:// repositories',
        username: 'goes with repo.token',
        runtime: 'unknown runtime',
        build: 'command 2: too long',
        run: 'too long',
        env: '1X: bad name',
      },
      other: ['repo.other: unknown', 'port: too big', '(body): unknown field'],
    });
    for (const field of Object.keys(form.placeFieldErrors({ name: 'x' }).byField))
      expect(form.formFields).to.include(field);
  });

  const advice: [keyof typeof cloneFailures, string][] = [
    ['branch', 'Choose another branch in Manage → Source.'],
    ['repository', 'Check the URL in Manage → Source; a private repository also needs an access token there.'],
    [
      'privateRepository',
      'Give an access token that can read the repository (and its git user, for Bitbucket) in Manage → Source.',
    ],
    [
      'refusedToken',
      'Give an access token that can read the repository (and its git user, for Bitbucket) in Manage → Source.',
    ],
    ['refusedSshKey', 'In Manage → Source, give the https URL of the repository and an access token.'],
    ['unreachable', ''],
    ['build', ''],
  ];
  for (const [kind, words] of advice)
    it(`after a failed first deploy (${kind}): ${words || 'no advice'}`, function () {
      expect(form.cloneAdvice(cloneFailures[kind])).to.equal(words);
    });
});
