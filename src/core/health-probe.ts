/**
 * How Gasper's HTTP health probes show in an app's output. The probe sends
 * `User-Agent: gasper-health/1` and `X-Gasper-Health: 1`: an app whose access log prints the
 * user agent shows the marker, and the logs API hides those lines unless asked
 * (`GET /apps/:name/logs?probes=1`); an app may also skip logging requests with the header.
 */
export const healthProbeUserAgent = 'gasper-health/1';
export const healthProbeHeader = 'x-gasper-health';

/** Whether a line of app output is a logged health probe. */
export function isProbeLine(text: string): boolean {
  return text.includes(healthProbeUserAgent);
}
