#!/usr/bin/python3
# contrib/interop/pgpy_make.py — PGPy (Debian's python3-pgpy) as a reporter's producer for
# issue 11's interop suite: makes its own Ed25519/Curve25519 key, then signs and encrypts to the
# project key. Run with Debian's /usr/bin/python3, which is where python3-pgpy installs.
#
#   pgpy_make.py key UID_NAME EMAIL OUT_KEY OUT_CERT     a new key (test-only secret) and cert
#   pgpy_make.py encrypt KEY RECIPIENT_CERT IN OUT       signed by KEY, encrypted, armored
#   pgpy_make.py decrypt KEY SIGNER_CERT IN OUT          decrypted; fails unless SIGNER signed
import sys
import warnings

# PGPy imports the cryptography package's deprecated ciphers (CAST5, IDEA…) by name; the
# warnings say nothing about what is made here.
warnings.filterwarnings("ignore")

import pgpy  # noqa: E402
from pgpy.constants import (  # noqa: E402
    CompressionAlgorithm,
    EllipticCurveOID,
    HashAlgorithm,
    KeyFlags,
    PubKeyAlgorithm,
    SymmetricKeyAlgorithm,
)


def key(name, addr, out_key, out_cert):
    k = pgpy.PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
    uid = pgpy.PGPUID.new(name, email=addr)
    k.add_uid(
        uid,
        usage={KeyFlags.Sign, KeyFlags.Certify},
        hashes=[HashAlgorithm.SHA256, HashAlgorithm.SHA512],
        ciphers=[SymmetricKeyAlgorithm.AES256, SymmetricKeyAlgorithm.AES128],
        compression=[CompressionAlgorithm.ZLIB, CompressionAlgorithm.Uncompressed],
    )
    sub = pgpy.PGPKey.new(PubKeyAlgorithm.ECDH, EllipticCurveOID.Curve25519)
    k.add_subkey(sub, usage={KeyFlags.EncryptCommunications, KeyFlags.EncryptStorage})
    with open(out_key, "w") as f:
        f.write(str(k))
    with open(out_cert, "w") as f:
        f.write(str(k.pubkey))


def encrypt(key_file, cert_file, src, out):
    k, _ = pgpy.PGPKey.from_file(key_file)
    rcpt, _ = pgpy.PGPKey.from_file(cert_file)
    with open(src, newline="") as f:
        msg = pgpy.PGPMessage.new(f.read())
    msg |= k.sign(msg)
    with open(out, "w") as f:
        f.write(str(rcpt.encrypt(msg)))


def decrypt(key_file, cert_file, src, out):
    k, _ = pgpy.PGPKey.from_file(key_file)
    signer, _ = pgpy.PGPKey.from_file(cert_file)
    with open(src) as f:
        msg = pgpy.PGPMessage.from_blob(f.read())
    plain = k.decrypt(msg)
    if not plain.signatures or not signer.verify(plain):
        sys.exit("pgpy_make.py: the message is not signed by the signer's cert")
    data = plain.message
    with open(out, "wb") as f:
        f.write(data if isinstance(data, (bytes, bytearray)) else data.encode())


if __name__ == "__main__":
    if sys.argv[1] == "key":
        key(*sys.argv[2:6])
    elif sys.argv[1] == "encrypt":
        encrypt(*sys.argv[2:6])
    elif sys.argv[1] == "decrypt":
        decrypt(*sys.argv[2:6])
    else:
        sys.exit(f"pgpy_make.py: unknown command {sys.argv[1]}")
