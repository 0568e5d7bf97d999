import type { Job } from 'bullmq';
import type { Logger } from '../core/log.ts';

/** Writes a job's progress and timed log lines, the material `GET /jobs/:id` shows. */
export class JobReporter {
  private readonly started = Date.now();
  private stepStarted = Date.now();

  /** Every line written, in order: a release keeps them as its build log. */
  readonly lines: string[] = [];

  constructor(
    private readonly job: Job,
    private readonly log: Logger,
  ) {}

  private write(text: string): Promise<number> {
    this.lines.push(text);
    return this.job.log(text);
  }

  private stamp(): string {
    return `[+${((Date.now() - this.started) / 1000).toFixed(3)}s]`;
  }

  async step(percent: number, step: string): Promise<void> {
    this.stepStarted = Date.now();
    this.log.debug({ job: this.job.id, step }, 'step');
    await Promise.all([this.job.updateProgress({ percent, step }), this.write(`${this.stamp()} ${step}`)]);
  }

  /** Closes a step with its duration. */
  async done(what: string): Promise<void> {
    await this.write(`${this.stamp()} ${what} (${Date.now() - this.stepStarted} ms)`);
  }

  async line(text: string): Promise<void> {
    await this.write(`${this.stamp()} ${text}`);
  }
}
