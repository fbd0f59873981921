/** The fuzz test of every route on sqlite; see fuzz.ts. */
import { fuzzSuite } from './fuzz.js'

fuzzSuite('sqlite')
