import { addressClass, literalAddress } from '../../core/repo-host.ts';

/**
 * Why GitHub could not deliver to a payload URL, or undefined when it may: a name of this
 * machine only (`localhost`) or an address off the public internet, as when GASPER_API_URL is
 * unset and the request came over loopback. Pure: test/api/webhooks/reachability.unit.test.ts.
 */
export function unreachableFromGitHub(url: string): string | undefined {
  const host = new URL(url).hostname;
  const address = literalAddress(host);
  const local = host === 'localhost' || host.endsWith('.localhost') || (address && addressClass(address));
  if (!local) return undefined;
  return (
    `GitHub cannot reach ${host}: set GASPER_API_URL to the address the API has on the internet ` +
    '(e.g. https://gasper.example.com), then create the webhook again for a URL GitHub can reach'
  );
}
