// Third-party check: verify credentials with Digital Bazaar's VC stack (@digitalbazaar/vc,
// data-integrity, eddsa-rdfc-2022-cryptosuite), offline: every context and document comes
// from stdin; anything else the verifier asks for is refused.
//
// stdin:  {"credentials": [{...}], "documents": {url: json}, "contexts": {url: file path}}
// stdout: [{"verified": bool, "errors": [...]}, ...] (one per credential), exit 0
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';

const input = JSON.parse(readFileSync(0, 'utf8'));
const documents = new Map(Object.entries(input.documents));
for(const [url, path] of Object.entries(input.contexts)) {
  documents.set(url, JSON.parse(readFileSync(path, 'utf8')));
}
const documentLoader = async url => {
  const document = documents.get(url);
  if(!document) {
    throw new Error(`offline: no pinned document for ${url}`);
  }
  return {contextUrl: null, documentUrl: url, document};
};
const messages = error => {
  if(!error) {
    return [];
  }
  const all = Array.isArray(error.errors) ? error.errors : [error];
  return all.map(e => String(e?.message ?? e));
};
const out = [];
for(const credential of input.credentials) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const result = await vc.verifyCredential({
    credential, suite, documentLoader,
    // Status lists are read by the caller (this checks schema-free proof + purpose).
    checkStatus: async () => ({verified: true}),
  });
  out.push({
    verified: result.verified,
    errors: [
      ...messages(result.error),
      ...(result.results || []).flatMap(r => messages(r.error)),
    ],
  });
}
console.log(JSON.stringify(out));
