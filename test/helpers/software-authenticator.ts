/**
 * A software WebAuthn authenticator for tests: an ES256 key pair from node:crypto per credential, and
 * attestation (`none`) and assertion responses built byte by byte as the WebAuthn spec lays them out
 * (authenticatorData = rpIdHash | flags | signCount | attestedCredentialData), CBOR through the encoder
 * `@simplewebauthn/server` itself uses. Nothing here is a stub of the verifier: the server checks real
 * signatures over real bytes.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto'
import { isoCBOR } from '@simplewebauthn/server/helpers'

const FLAG_UP = 0x01
const FLAG_UV = 0x04
const FLAG_AT = 0x40

/** One credential held by the authenticator. */
export interface SoftCredential {
  id: Buffer
  privateKey: KeyObject
  /** What `userHandle` returns: the user id bytes from the creation options. */
  userHandle: string
  counter: number
}

const b64url = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url')
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest()

function counterBytes(counter: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(counter >>> 0)
  return out
}

function coseKey(privateKey: KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: 'jwk' })
  const x = Buffer.from(String(jwk.x), 'base64url')
  const y = Buffer.from(String(jwk.y), 'base64url')
  // kty EC2 (1: 2), alg ES256 (3: -7), crv P-256 (-1: 1), x (-2), y (-3).
  return isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, new Uint8Array(x)],
      [-3, new Uint8Array(y)],
    ]),
  )
}

/** A software authenticator bound to an origin (what the "browser" reports) and an rpId. */
export class SoftwareAuthenticator {
  readonly credentials: SoftCredential[] = []
  origin: string
  rpId: string
  /** The counter step per assertion; 0 makes a non-counting authenticator. */
  counterStep = 1

  constructor(options: { origin: string; rpId: string }) {
    this.origin = options.origin
    this.rpId = options.rpId
  }

  /** `navigator.credentials.create()`: answers creation options with a new credential and `none` attestation. */
  create(options: { challenge: string; user: { id: string } }): Record<string, unknown> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const id = randomBytes(32)
    const credential: SoftCredential = { id, privateKey, userHandle: options.user.id, counter: 0 }
    this.credentials.push(credential)
    const clientDataJSON = JSON.stringify({
      type: 'webauthn.create',
      challenge: options.challenge,
      origin: this.origin,
      crossOrigin: false,
    })
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(id.length)
    const authData = Buffer.concat([
      sha256(this.rpId),
      Buffer.from([FLAG_UP | FLAG_UV | FLAG_AT]),
      counterBytes(credential.counter),
      Buffer.alloc(16), // AAGUID: all zero for a `none` attestation
      idLength,
      id,
      Buffer.from(coseKey(privateKey)),
    ])
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Map<string, string> | Uint8Array>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', new Uint8Array(authData)],
      ]),
    )
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }

  /**
   * `navigator.credentials.get()`: signs the challenge with a credential (the last one made by default),
   * moving its counter by {@link counterStep} unless `counter` is given.
   */
  get(
    options: { challenge: string },
    pick: { credential?: SoftCredential; counter?: number } = {},
  ): Record<string, unknown> {
    const credential = pick.credential ?? this.credentials.at(-1)
    if (!credential) throw new Error('no credential')
    credential.counter = pick.counter ?? credential.counter + this.counterStep
    const clientDataJSON = JSON.stringify({
      type: 'webauthn.get',
      challenge: options.challenge,
      origin: this.origin,
      crossOrigin: false,
    })
    const authData = Buffer.concat([
      sha256(this.rpId),
      Buffer.from([FLAG_UP | FLAG_UV]),
      counterBytes(credential.counter),
    ])
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey)
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }
}
