/** The repository gives no way to run it, or a file conventions read is malformed: a user error. */
export class ConventionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConventionError';
  }
}
