/**
 * The password prompt module on a TTY-like stream (the binary's real-terminal path is in cli.test.ts,
 * through `script`): what is typed is never written back, and the two entries must match.
 */
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { describe, it } from 'node:test'
import { CliError } from '../../src/cli/output.js'
import { promptHidden, promptNewPassword, readPasswordFrom } from '../../src/cli/prompt.js'

/** A stream that says it is a terminal, and records raw-mode switches. */
function fakeTerminal() {
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    rawModes: [] as boolean[],
    setRawMode(mode: boolean) {
      input.rawModes.push(mode)
      return input
    },
  })
  let screen = ''
  const output = {
    write(chunk: string) {
      screen += chunk
    },
  }
  return { input, output, screen: () => screen }
}

/** Types each answer once the prompt before it is on screen. */
function typeAnswers(terminal: ReturnType<typeof fakeTerminal>, answers: string[]): void {
  let typed = 0
  const timer = setInterval(() => {
    const prompts = terminal.screen().match(/password: /gi)?.length ?? 0
    if (typed < prompts && typed < answers.length) terminal.input.write(answers[typed++]!)
    if (typed === answers.length) clearInterval(timer)
  }, 5)
}

describe('promptHidden', () => {
  it('shows the question, hides the answer, and restores the terminal', async () => {
    const terminal = fakeTerminal()
    typeAnswers(terminal, ['s3cret value\r'])
    const answer = await promptHidden('Password: ', terminal)
    assert.equal(answer, 's3cret value')
    assert.equal(terminal.screen(), 'Password: \n')
    assert.deepEqual(terminal.input.rawModes, [true, false])
  })

  it('treats Ctrl-C as cancel (exit code 130) and end of input as a failure', async () => {
    const cancelled = fakeTerminal()
    typeAnswers(cancelled, ['abc\x03'])
    await assert.rejects(promptHidden('Password: ', cancelled), (error: unknown) => {
      assert.ok(error instanceof CliError)
      assert.equal(error.exitCode, 130)
      return true
    })
    assert.ok(!cancelled.screen().includes('abc'))

    const ended = fakeTerminal()
    setTimeout(() => ended.input.end(), 20)
    await assert.rejects(promptHidden('Password: ', ended), /the input ended/)
  })
})

describe('promptNewPassword', () => {
  it('asks twice and returns the password when both match', async () => {
    const terminal = fakeTerminal()
    typeAnswers(terminal, ['same one 123\r', 'same one 123\r'])
    assert.equal(await promptNewPassword(terminal), 'same one 123')
    assert.equal(terminal.screen(), 'Password: \nRepeat password: \n')
  })

  it('refuses different entries and an empty one', async () => {
    const differ = fakeTerminal()
    typeAnswers(differ, ['one password\r', 'another one\r'])
    await assert.rejects(promptNewPassword(differ), /the passwords do not match/)
    const empty = fakeTerminal()
    typeAnswers(empty, ['\r'])
    await assert.rejects(promptNewPassword(empty), /the password is empty/)
  })

  it('refuses to ask when the input is not a terminal (exit code 2)', async () => {
    const input = new PassThrough()
    await assert.rejects(promptNewPassword({ input, output: { write() {} } }), (error: unknown) => {
      assert.ok(error instanceof CliError)
      assert.equal(error.exitCode, 2)
      assert.match(error.message, /stdin is not a terminal/)
      return true
    })
  })
})

describe('readPasswordFrom', () => {
  it('reads the first line of a pipe', async () => {
    const input = new PassThrough()
    input.end('from a pipe\nignored\n')
    assert.equal(await readPasswordFrom(input), 'from a pipe')
    const crlf = new PassThrough()
    crlf.end('windows\r\n')
    assert.equal(await readPasswordFrom(crlf), 'windows')
    const empty = new PassThrough()
    empty.end('')
    await assert.rejects(readPasswordFrom(empty), /no password on stdin/)
  })
})
