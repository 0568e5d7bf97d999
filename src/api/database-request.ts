import { z } from 'zod';
import { databaseNameProblem } from '../core/database-naming.ts';
import { engineNames } from '../core/engines.ts';
import { databaseResourcesSchema } from '../store/database-document.ts';

/** The body of `POST /databases`. */
export const createDatabaseRequest = z
  .object({
    name: z.string().superRefine((value, ctx) => {
      const message = databaseNameProblem(value);
      if (message) ctx.addIssue({ code: 'custom', message });
    }),
    engine: z.string().refine((e) => engineNames.includes(e), {
      message: `unknown engine; one of: ${engineNames.join(', ')} (MongoDB cannot be installed on these nodes)`,
    }),
    resources: databaseResourcesSchema.optional(),
  })
  .strict();
export type CreateDatabaseRequest = z.infer<typeof createDatabaseRequest>;

/** The body of `POST /databases/:name/restore`. */
export const restoreRequest = z.object({ backup: z.string().min(1).max(100) }).strict();

/** The body of `PATCH /apps/:name` when it links databases. */
export const linkDatabasesRequest = z
  .object({
    databases: z
      .array(z.string().min(1).max(40))
      .max(20)
      .refine((l) => new Set(l).size === l.length, 'must not repeat a database'),
  })
  .strict();
