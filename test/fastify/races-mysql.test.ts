/** Races over HTTP on MySQL/MariaDB; see races.ts. */
import { testDialects } from '../helpers/databases.js'
import { racesSuite } from './races.js'

racesSuite(testDialects.find((d) => d.name === 'mysql')!)
