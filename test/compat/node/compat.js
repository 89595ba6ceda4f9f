// Drives osslocal with the official Node SDK (ali-oss), configured with only
// an endpoint, a region and keys, through the operations ossmount relies on.
// Prints one line per check ("ok NAME" or "FAIL NAME: why") and exits 1 on
// any failure. Environment: OSS_ENDPOINT, OSS_REGION, OSS_BUCKET,
// OSS_AK, OSS_SK, OSS_V4 ("1" to sign with V4), OSS_TMP (a scratch dir).
'use strict';
const OSS = require('ali-oss');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const env = process.env;
const v4 = env.OSS_V4 === '1';
const conf = {
  endpoint: env.OSS_ENDPOINT,
  region: env.OSS_REGION,
  accessKeyId: env.OSS_AK,
  accessKeySecret: env.OSS_SK,
  bucket: env.OSS_BUCKET,
  authorizationV4: v4,
  timeout: 120000,
};
const client = new OSS(conf);
// ali-oss refuses to sign URLs for an IP endpoint; a host name with
// path-style addressing (sldEnable) reaches the same server.
const signer = new OSS({ ...conf, endpoint: conf.endpoint.replace('127.0.0.1', 'localhost'), sldEnable: true });
const prefix = `node-${v4 ? 'v4' : 'v1'}-${Date.now()}/`;
let failed = 0;

function check(name, cond, why) {
  if (cond) {
    console.log(`ok ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${why}`);
  }
}

async function expectCode(name, fn, code) {
  try {
    await fn();
    check(name, false, `no error, want ${code}`);
  } catch (e) {
    check(name, e.code === code, `code ${e.code} status ${e.status}, want ${code}`);
  }
}

async function main() {
  const key = prefix + 'dir/hello world.txt';
  await client.put(key, Buffer.from('hello from node'), { meta: { color: 'blue' }, mime: 'text/plain' });
  let h = await client.head(key);
  check('put+head meta', h.meta && h.meta.color === 'blue', JSON.stringify(h.meta));
  check('head content-type', h.res.headers['content-type'] === 'text/plain', h.res.headers['content-type']);

  await client.copy(key, key, { meta: { color: 'green', size: 'xl' } });
  h = await client.head(key);
  check('self-copy changes meta', h.meta.color === 'green' && h.meta.size === 'xl', JSON.stringify(h.meta));

  let r = await client.get(key, { headers: { Range: 'bytes=6-9' } });
  check('range read', r.content.toString() === 'from', JSON.stringify(r.content.toString()));

  for (let i = 0; i < 5; i++) {
    await client.put(`${prefix}list/f${i}`, Buffer.from('x'));
  }
  await client.put(`${prefix}list/sub/a`, Buffer.from('x'));
  await client.put(`${prefix}list/sub2/b`, Buffer.from('x'));
  const names = [];
  const prefixes = [];
  let token = null;
  let pages = 0;
  do {
    const q = { prefix: `${prefix}list/`, delimiter: '/', 'max-keys': 2 };
    if (token) q['continuation-token'] = token;
    const page = await client.listV2(q);
    pages++;
    (page.objects || []).forEach((o) => names.push(o.name));
    (page.prefixes || []).forEach((p) => prefixes.push(p));
    token = page.isTruncated ? page.nextContinuationToken : null;
  } while (token);
  check('listV2 delimiter+pagination', names.length === 5 && prefixes.length === 2 && pages === 4,
    `${names.length} objects, ${JSON.stringify(prefixes)}, ${pages} pages`);
  const v1 = await client.list({ prefix: `${prefix}list/`, delimiter: '/', 'max-keys': 100 });
  check('list v1', v1.objects.length === 5 && v1.prefixes.length === 2, JSON.stringify(v1.prefixes));

  const big = path.join(env.OSS_TMP, `big-${v4}.bin`);
  const data = crypto.randomBytes(64 << 20);
  fs.writeFileSync(big, data);
  await client.multipartUpload(prefix + 'big.bin', big, { partSize: 8 << 20, parallel: 4 });
  const bh = await client.head(prefix + 'big.bin');
  check('64 MiB multipart size', Number(bh.res.headers['content-length']) === data.length, bh.res.headers['content-length']);
  const got = await client.get(prefix + 'big.bin');
  check('64 MiB multipart content', Buffer.compare(got.content, data) === 0, 'content differs');
  fs.unlinkSync(big);

  let a = await client.append(prefix + 'app.log', Buffer.from('one,'));
  a = await client.append(prefix + 'app.log', Buffer.from('two'), { position: a.nextAppendPosition });
  r = await client.get(prefix + 'app.log');
  check('append', r.content.toString() === 'one,two' && String(a.nextAppendPosition) === '7', r.content.toString());

  const disp = 'attachment; filename="report.txt"';
  const urlV1 = signer.signatureUrl(key, { expires: 60, response: { 'content-disposition': disp } });
  let res = await fetch(urlV1);
  let body = await res.text();
  check('V1 presigned GET', res.status === 200 && body === 'hello from node' && res.headers.get('content-disposition') === disp,
    `${res.status} ${body.slice(0, 200)}`);
  const urlV4 = await signer.signatureUrlV4('GET', 60, { queries: { 'response-content-disposition': disp } }, key);
  res = await fetch(urlV4);
  body = await res.text();
  check('V4 presigned GET', res.status === 200 && body === 'hello from node' && res.headers.get('content-disposition') === disp,
    `${res.status} ${body.slice(0, 200)}`);

  const tampered = urlV1.replace('hello%20world', 'hello%20World');
  res = await fetch(tampered);
  body = await res.text();
  check('tampered presigned URL refused', res.status === 403 && body.includes('<Code>SignatureDoesNotMatch</Code>'), `${res.status} ${body.slice(0, 200)}`);
  const expired = signer.signatureUrl(key, { expires: 1 });
  await new Promise((ok) => setTimeout(ok, 3100));
  res = await fetch(expired);
  body = await res.text();
  check('expired presigned URL refused', res.status === 403 && body.includes('<Code>AccessDenied</Code>'), `${res.status} ${body.slice(0, 200)}`);

  const bad = new OSS({ ...conf, accessKeySecret: 'not-the-secret' });
  await expectCode('wrong secret refused', () => bad.put(prefix + 'nope', Buffer.from('x')), 'SignatureDoesNotMatch');
  await expectCode('missing key', () => client.head(prefix + 'missing'), 'NoSuchKey');

  await client.delete(key);
  await expectCode('deleted', () => client.get(key), 'NoSuchKey');
  const all = await client.listV2({ prefix, 'max-keys': 1000 });
  await client.deleteMulti(all.objects.map((o) => o.name), { quiet: true });
  const left = await client.listV2({ prefix });
  check('deleteMulti', (left.objects || []).length === 0, `${(left.objects || []).length} left`);
}

main().then(
  () => process.exit(failed ? 1 : 0),
  (e) => {
    console.log(`FAIL unexpected: ${e.code || ''} ${e.status || ''} ${e.message}`);
    process.exit(1);
  },
);
