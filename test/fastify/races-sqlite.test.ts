/** Races over HTTP on SQLite; see races.ts. */
import { testDialects } from '../helpers/databases.js'
import { racesSuite, takenUsernameSuite } from './races.js'

racesSuite(testDialects.find((d) => d.name === 'sqlite')!)

takenUsernameSuite()
