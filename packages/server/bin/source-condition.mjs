// A module resolution hook: resolves @clawbounties packages to their TypeScript sources (the
// `@clawbounties/source` condition of their `exports`), as `node --conditions=@clawbounties/source` would.
export const resolve = (specifier, context, next) =>
  next(specifier, { ...context, conditions: [...context.conditions, "@clawbounties/source"] })
