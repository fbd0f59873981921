/** Sign-in with an OpenID Connect provider on sqlite (one file per database, for the runner's time budget). */
import { testDialects } from '../helpers/databases.js'
import { oidcSuite } from './oidc-flow.js'

for (const dialect of testDialects.filter((d) => d.name === 'sqlite')) oidcSuite(dialect)
