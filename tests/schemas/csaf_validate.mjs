// Runs the BSI's CSAF validator (@secvisogram/csaf-validator-lib, from the npm registry) on
// CSAF 2.0 documents: the schema test and every mandatory test of CSAF 2.0 §6.1, as the BSI's
// validator service runs them (its "basic" set).
//
// usage: node csaf_validate.mjs NODE_MODULES_DIR FILE...
// exit 0 all valid, 1 some invalid (each failing test and its errors on stdout, by file),
// 2 library missing.
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [modules, ...files] = process.argv.slice(2)
const lib = join(modules || '', '@secvisogram', 'csaf-validator-lib')
if (!modules || files.length === 0 || !existsSync(join(lib, 'basic.js'))) {
  console.error(`csaf-validator-lib not found under ${modules}: npm install @secvisogram/csaf-validator-lib`)
  process.exit(2)
}
const basic = await import(pathToFileURL(join(lib, 'basic.js')).href)
const { default: validateStrict } = await import(pathToFileURL(join(lib, 'validateStrict.js')).href)
let invalid = 0
for (const file of files) {
  const doc = JSON.parse(readFileSync(file, 'utf8'))
  const result = await validateStrict(Object.values(basic), doc)
  let failed = 0
  for (const t of result.tests) {
    const errors = t.errors || []
    if (t.isValid && errors.length === 0) continue
    failed++
    for (const e of errors) console.log(`${file}: ${t.name}: ${e.instancePath || '(root)'}: ${e.message}`)
    if (errors.length === 0) console.log(`${file}: ${t.name}: not valid`)
  }
  if (!result.isValid || failed) invalid++
  console.log(`${file}: ${result.tests.length} tests run, ${failed} failed`)
}
process.exit(invalid ? 1 : 0)
