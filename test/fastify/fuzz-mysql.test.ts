/** The fuzz test of every route on mysql; see fuzz.ts. */
import { fuzzSuite } from './fuzz.js'

fuzzSuite('mysql')
