/** The storage conformance suite on mysql: see kysely-conformance.ts. */
import { testDialects } from '../helpers/databases.js'
import { kyselyConformance } from './kysely-conformance.js'

for (const dialect of testDialects.filter((d) => d.name === 'mysql')) kyselyConformance(dialect)
