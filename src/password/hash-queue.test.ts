import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { describe, it } from 'node:test'
import { BusyError } from '../kernel/errors.js'
import { defaultHashConcurrency, HashQueue } from './hash-queue.js'

interface Deferred {
  promise: Promise<number>
  resolve: (value: number) => void
  reject: (err: Error) => void
}

function deferred(): Deferred {
  let resolve!: (value: number) => void
  let reject!: (err: Error) => void
  const promise = new Promise<number>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('HashQueue', () => {
  it('never runs more than `concurrency` tasks at once, and starts them in FIFO order', async () => {
    const queue = new HashQueue({ concurrency: 2 })
    const gates = Array.from({ length: 6 }, deferred)
    const started: number[] = []
    let running = 0
    let peak = 0
    const results = gates.map((gate, index) =>
      queue.run(async () => {
        started.push(index)
        running++
        peak = Math.max(peak, running)
        try {
          return await gate.promise
        } finally {
          running--
        }
      }),
    )
    assert.deepEqual(started, [0, 1])
    assert.equal(queue.active, 2)
    assert.equal(queue.pending, 4)

    // Finishing out of order still hands the free slot to the oldest waiting task.
    gates[1]!.resolve(1)
    await settle()
    assert.deepEqual(started, [0, 1, 2])
    gates[0]!.resolve(0)
    await settle()
    assert.deepEqual(started, [0, 1, 2, 3])
    for (const [index, gate] of gates.entries()) gate.resolve(index)

    assert.deepEqual(await Promise.all(results), [0, 1, 2, 3, 4, 5])
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5])
    assert.equal(peak, 2)
    assert.equal(queue.active, 0)
    assert.equal(queue.pending, 0)
  })

  it('rejects with BusyError at once when maxQueued tasks are already waiting', async () => {
    const queue = new HashQueue({ concurrency: 1, maxQueued: 2 })
    const gate = deferred()
    const first = queue.run(() => gate.promise)
    const second = queue.run(() => Promise.resolve(2))
    const third = queue.run(() => Promise.resolve(3))
    assert.equal(queue.pending, 2)

    let ran = false
    await assert.rejects(
      queue.run(async () => {
        ran = true
        return 4
      }),
      BusyError,
    )
    assert.equal(ran, false)
    assert.equal(queue.pending, 2)

    gate.resolve(1)
    assert.deepEqual(await Promise.all([first, second, third]), [1, 2, 3])
    assert.equal(await queue.run(() => Promise.resolve(5)), 5)
  })

  it('with maxQueued 0, refuses anything that cannot start at once', async () => {
    const queue = new HashQueue({ concurrency: 1, maxQueued: 0 })
    const gate = deferred()
    const first = queue.run(() => gate.promise)
    await assert.rejects(
      queue.run(() => Promise.resolve(2)),
      BusyError,
    )
    gate.resolve(1)
    assert.equal(await first, 1)
  })

  it('passes failures through and frees the slot', async () => {
    const queue = new HashQueue({ concurrency: 1 })
    const failing = queue.run(() => Promise.reject(new Error('boom')))
    const throwing = queue.run(() => {
      throw new Error('sync boom')
    })
    const next = queue.run(() => Promise.resolve('ok'))
    await assert.rejects(failing, /boom/)
    await assert.rejects(throwing, /sync boom/)
    assert.equal(await next, 'ok')
    assert.equal(queue.active, 0)
  })

  it('throws TypeError for bad options', () => {
    assert.throws(() => new HashQueue({ concurrency: 0 }), TypeError)
    assert.throws(() => new HashQueue({ concurrency: 1.5 }), TypeError)
    assert.throws(() => new HashQueue({ maxQueued: -1 }), TypeError)
    assert.equal(new HashQueue().maxQueued, 1000)
    assert.equal(new HashQueue().concurrency, defaultHashConcurrency())
  })
})

describe('defaultHashConcurrency', () => {
  it('leaves one libuv pool thread and one core free, and is at least 1', (t) => {
    const saved = process.env.UV_THREADPOOL_SIZE
    t.after(() => {
      if (saved === undefined) delete process.env.UV_THREADPOOL_SIZE
      else process.env.UV_THREADPOOL_SIZE = saved
    })
    delete process.env.UV_THREADPOOL_SIZE
    const cores = availableParallelism()
    assert.equal(defaultHashConcurrency(), Math.max(1, Math.min(3, cores - 1)))
    process.env.UV_THREADPOOL_SIZE = '1'
    assert.equal(defaultHashConcurrency(), 1)
    process.env.UV_THREADPOOL_SIZE = '128'
    assert.equal(defaultHashConcurrency(), Math.max(1, cores - 1))
    process.env.UV_THREADPOOL_SIZE = 'nonsense'
    assert.equal(defaultHashConcurrency(), Math.max(1, Math.min(3, cores - 1)))
  })
})
