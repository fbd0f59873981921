/** The fuzz test of every route on postgres; see fuzz.ts. */
import { fuzzSuite } from './fuzz.js'

fuzzSuite('postgres')
