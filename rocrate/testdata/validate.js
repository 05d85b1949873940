// Validates RO-Crate metadata documents with the RO-Crate project's own
// JavaScript library (ro-crate on npm, pinned in .ci/tools), offline: the
// RO-Crate 1.1 context it fetches is served from the copy shipped in the
// repository, and any other URL fails.
//
//   node validate.js CONTEXT.jsonld DOC.json...
//
// Prints one JSON line per document: {"file", "results": [{status, id, message}]}.
const fs = require('fs');
const [contextFile, ...docs] = process.argv.slice(2);
const context = fs.readFileSync(contextFile, 'utf8');
globalThis.fetch = async (url) => {
  if (String(url) !== 'https://w3id.org/ro/crate/1.1/context') {
    throw new Error('offline: no ' + url);
  }
  return {ok: true, status: 200, statusText: 'OK', json: async () => JSON.parse(context), text: async () => context};
};
const {ROCrate} = require('ro-crate');
const {validate} = require('ro-crate/lib/validator');
(async () => {
  for (const file of docs) {
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    const crate = new ROCrate(json, {array: true, link: true});
    await crate.resolveContext();
    const results = await validate(crate);
    console.log(JSON.stringify({file, results: results.map(({status, id, message}) => ({status, id, message}))}));
  }
})().catch((e) => { console.error(e); process.exit(1); });
