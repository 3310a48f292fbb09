// contrib/interop/openpgpjs.mjs — OpenPGP.js (the npm package `openpgp`, the library behind
// Mailvelope, FlowCrypt and Proton's web client) as a reporter's producer for issue 11's interop
// suite. Run under node with NODE_PATH naming the node_modules that contrib/test.sh installs.
//
//   node openpgpjs.mjs key NAME EMAIL OUT_KEY OUT_CERT [v6]       a new key (test-only secret)
//   node openpgpjs.mjs encrypt KEY RECIPIENT_CERT IN OUT [STYLE]  signed, encrypted, armored
//   node openpgpjs.mjs decrypt KEY SIGNER_CERT IN OUT    decrypted; fails unless SIGNER signed
// STYLE is how the client configures the armor: "default" (no armor headers), "mailvelope"
// (Version and Comment, as Mailvelope sets them) or "flowcrypt" (FlowCrypt's Comment).
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";

// NODE_PATH is honoured by require, not by import: resolve the package through require.
const openpgp = createRequire(import.meta.url)("openpgp");

const STYLES = {
  default: {},
  mailvelope: {
    showVersion: true,
    versionString: "Mailvelope v6.1.0",
    showComment: true,
    commentString: "https://mailvelope.com",
  },
  flowcrypt: {
    showComment: true,
    commentString: "Seamlessly send and receive encrypted email",
  },
};

async function key(name, email, outKey, outCert, v6) {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: "curve25519",
    userIDs: [{ name, email }],
    format: "armored",
    config: { v6Keys: v6 === "v6" },
  });
  writeFileSync(outKey, privateKey);
  writeFileSync(outCert, publicKey);
}

async function encrypt(keyFile, certFile, src, out, style = "default") {
  const config = STYLES[style];
  if (!config) throw new Error(`unknown style ${style}`);
  const signingKeys = await openpgp.readPrivateKey({ armoredKey: readFileSync(keyFile, "utf8") });
  const encryptionKeys = await openpgp.readKey({ armoredKey: readFileSync(certFile, "utf8") });
  const message = await openpgp.createMessage({ text: readFileSync(src, "utf8") });
  const armored = await openpgp.encrypt({ message, encryptionKeys, signingKeys, config });
  writeFileSync(out, armored);
}

async function decrypt(keyFile, certFile, src, out) {
  const decryptionKeys = await openpgp.readPrivateKey({ armoredKey: readFileSync(keyFile, "utf8") });
  const verificationKeys = await openpgp.readKey({ armoredKey: readFileSync(certFile, "utf8") });
  const message = await openpgp.readMessage({ armoredMessage: readFileSync(src, "utf8") });
  // expectSigned: a missing or bad signature by the signer is an error, not a warning.
  const { data } = await openpgp.decrypt({ message, decryptionKeys, verificationKeys, expectSigned: true });
  writeFileSync(out, data);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === "key") await key(...args);
else if (cmd === "encrypt") await encrypt(...args);
else if (cmd === "decrypt") await decrypt(...args);
else throw new Error(`openpgpjs.mjs: unknown command ${cmd}`);
