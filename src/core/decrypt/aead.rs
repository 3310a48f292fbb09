//! Decryption of the LibrePGP "AEAD Encrypted Data" packet (tag 20, version 1; made by
//! `gpg --force-ocb` and GnuPG 2.3+ defaults). Layout (draft-koch-librepgp §5.16):
//! version, cipher, AEAD mode, chunk size octet c, IV; then chunks of 2^(c+6) bytes each
//! followed by a tag; then a final tag over the empty string. The nonce of chunk i is the IV
//! with the last 8 bytes XORed with i; the associated data is the packet header octet, the
//! four parameter octets, and i (8 bytes), plus the total length (8 bytes) for the final tag.

use std::io::Read;

use super::keys::{self, Cert, POLICY};
use super::openpgp::crypto::SessionKey;
use super::openpgp::packet::{Packet, PKESK};
use super::openpgp::parse::stream::VerifierBuilder;
use super::openpgp::parse::Parse;
use super::openpgp::types::{AEADAlgorithm, SymmetricAlgorithm};
use super::packets::{unlock_session, Decrypted, OurKey};
use super::verify::VHelper;
use super::{certs_for, Ctx, MAX_PLAINTEXT};

pub(super) fn decrypt(bin: &[u8], ctx: &Ctx, extra: &[Cert], ours: &[OurKey]) -> Decrypted {
    let (pkesks, body) = match split(bin) {
        Ok(x) => x,
        Err(r) => return Decrypted::Damaged(r.to_string()),
    };
    let mut failure: Option<String> = None;
    let found = unlock_session(&pkesks, ours, None, |algo, sk| {
        let algo = algo?;
        match open(&body, algo, sk) {
            Ok(p) => Some(p),
            Err(r) => {
                failure = Some(r);
                None
            }
        }
    });
    let Some((packets, _)) = found else {
        return Decrypted::Damaged(
            failure.unwrap_or_else(|| "could not decrypt the session key".into()),
        );
    };
    // The plaintext is an OpenPGP message (compressed / literal / signed): verify it.
    let helper = VHelper {
        certs: certs_for(ctx, extra),
        now: ctx.now,
        results: Vec::new(),
    };
    let v = VerifierBuilder::from_bytes(&packets[..])
        .and_then(|b| b.with_policy(POLICY, ctx.now, helper));
    let mut v = match v {
        Ok(v) => v,
        Err(e) => {
            return Decrypted::Damaged(format!("decrypted content is damaged: {}", keys::short(&e)))
        }
    };
    let mut plaintext = Vec::new();
    if let Err(e) = (&mut v)
        .take(MAX_PLAINTEXT as u64 + 1)
        .read_to_end(&mut plaintext)
    {
        return Decrypted::Damaged(format!("decrypted content is damaged: {e}"));
    }
    if plaintext.len() > MAX_PLAINTEXT {
        return Decrypted::Damaged("decrypted content larger than 64 MiB".into());
    }
    Decrypted::Plain {
        plaintext,
        sigs: v.into_helper().results,
    }
}

/// The PKESKs and the body of the AEAD packet.
fn split(bin: &[u8]) -> Result<(Vec<PKESK>, Vec<u8>), &'static str> {
    let mut pkesks = Vec::new();
    let mut pos = 0;
    while pos < bin.len() {
        let (tag, hdr, len) = header(&bin[pos..]).ok_or("malformed packet header")?;
        let start = pos + hdr;
        if tag == 20 {
            // Partial body lengths: gather the chunks.
            return body(bin, pos).map(|b| (pkesks, b));
        }
        let end = start
            .checked_add(len)
            .filter(|&e| e <= bin.len())
            .ok_or("truncated packet")?;
        if tag == 1 {
            if let Ok(Packet::PKESK(p)) = Packet::from_bytes(&bin[pos..end]) {
                pkesks.push(p);
            }
        }
        pos = end;
    }
    Err("no AEAD packet")
}

/// Returns (tag, header length, body length) for a packet with a definite length.
fn header(b: &[u8]) -> Option<(u8, usize, usize)> {
    let first = *b.first()?;
    if first & 0x80 == 0 {
        return None;
    }
    if first & 0x40 != 0 {
        let tag = first & 0x3f;
        let (len, n) = new_len(&b[1..])?;
        Some((tag, 1 + n, len?))
    } else {
        let tag = (first >> 2) & 0x0f;
        match first & 3 {
            0 => Some((tag, 2, *b.get(1)? as usize)),
            1 => Some((
                tag,
                3,
                u16::from_be_bytes([*b.get(1)?, *b.get(2)?]) as usize,
            )),
            2 => Some((
                tag,
                5,
                u32::from_be_bytes([*b.get(1)?, *b.get(2)?, *b.get(3)?, *b.get(4)?]) as usize,
            )),
            _ => None,
        }
    }
}

/// New-format length: (Some(len) | None for partial, octets used).
fn new_len(b: &[u8]) -> Option<(Option<usize>, usize)> {
    let o = *b.first()? as usize;
    Some(match o {
        0..=191 => (Some(o), 1),
        192..=223 => (Some(((o - 192) << 8) + *b.get(1)? as usize + 192), 2),
        255 => (
            Some(u32::from_be_bytes([*b.get(1)?, *b.get(2)?, *b.get(3)?, *b.get(4)?]) as usize),
            5,
        ),
        _ => (None, 1),
    })
}

/// The whole body of the packet at `pos`, joining partial body lengths.
fn body(bin: &[u8], pos: usize) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::new();
    let first = bin[pos];
    if first & 0x40 == 0 {
        let (_, hdr, len) = header(&bin[pos..]).ok_or("malformed packet header")?;
        let end = (pos + hdr)
            .checked_add(len)
            .filter(|&e| e <= bin.len())
            .ok_or("truncated")?;
        return Ok(bin[pos + hdr..end].to_vec());
    }
    let mut p = pos + 1;
    loop {
        let rest = bin.get(p..).ok_or("truncated")?;
        let o = *rest.first().ok_or("truncated")? as usize;
        if (224..255).contains(&o) {
            let n = 1usize << (o & 0x1f);
            let chunk = bin.get(p + 1..p + 1 + n).ok_or("truncated")?;
            out.extend_from_slice(chunk);
            p += 1 + n;
            if out.len() > MAX_PLAINTEXT * 2 {
                return Err("too large");
            }
            continue;
        }
        let (len, n) = new_len(rest).ok_or("truncated")?;
        let len = len.ok_or("bad length")?;
        let chunk = bin.get(p + n..p + n + len).ok_or("truncated")?;
        out.extend_from_slice(chunk);
        return Ok(out);
    }
}

/// Decrypts and authenticates every chunk and the final tag.
fn open(body: &[u8], sym: SymmetricAlgorithm, sk: &SessionKey) -> Result<Vec<u8>, String> {
    let [version, cipher_octet, mode, c, rest @ ..] = body else {
        return Err("truncated AEAD packet".into());
    };
    if *version != 1 {
        return Err(format!("unsupported AEAD packet version {version}"));
    }
    let cipher = SymmetricAlgorithm::from(*cipher_octet);
    if cipher != sym {
        return Err("AEAD cipher mismatch".into());
    }
    let aead = AEADAlgorithm::from(*mode);
    let iv_len = match aead {
        AEADAlgorithm::EAX => 16,
        AEADAlgorithm::OCB => 15,
        _ => return Err("unsupported AEAD mode".into()),
    };
    if *c > 16 {
        return Err("AEAD chunk size too large".into());
    }
    let chunk = 1usize << (*c as usize + 6);
    let tag_len = 16;
    if rest.len() < iv_len + tag_len {
        return Err("truncated AEAD packet".into());
    }
    let (iv, data) = rest.split_at(iv_len);
    let (chunks, final_tag) = data.split_at(data.len() - tag_len);
    let prefix = [0xC0 | 20, *version, *cipher_octet, *mode, *c];
    let mut out = Vec::new();
    let mut index: u64 = 0;
    let nonce_for = |i: u64| {
        let mut n = iv.to_vec();
        let l = n.len();
        for (k, b) in i.to_be_bytes().iter().enumerate() {
            n[l - 8 + k] ^= b;
        }
        n
    };
    let integrity = || "integrity check failed: the ciphertext was modified".to_string();
    for piece in chunks.chunks(chunk + tag_len) {
        if piece.len() < tag_len {
            return Err(integrity());
        }
        let mut ad = prefix.to_vec();
        ad.extend_from_slice(&index.to_be_bytes());
        let nonce = nonce_for(index);
        let dst = open_chunk(aead, cipher, sk, &ad, &nonce, piece).map_err(|e| {
            if e.is_empty() {
                integrity()
            } else {
                e
            }
        })?;
        out.extend_from_slice(&dst);
        if out.len() > MAX_PLAINTEXT {
            return Err("decrypted content larger than 64 MiB".into());
        }
        index += 1;
    }
    let mut ad = prefix.to_vec();
    ad.extend_from_slice(&index.to_be_bytes());
    ad.extend_from_slice(&(out.len() as u64).to_be_bytes());
    let nonce = nonce_for(index);
    open_chunk(aead, cipher, sk, &ad, &nonce, final_tag).map_err(|e| {
        if e.is_empty() {
            integrity()
        } else {
            e
        }
    })?;
    Ok(out)
}

/// Decrypts and authenticates one chunk (ciphertext followed by its 16-byte tag). An empty
/// error string means the tag did not verify. OCB goes through our own RFC 7253 code when
/// the crypto backend lacks it (nettle before 3.9).
fn open_chunk(
    aead: AEADAlgorithm,
    cipher: SymmetricAlgorithm,
    sk: &SessionKey,
    ad: &[u8],
    nonce: &[u8],
    piece: &[u8],
) -> Result<Vec<u8>, String> {
    match aead
        .context(cipher, sk, ad, nonce)
        .and_then(|b| b.for_decryption())
    {
        Ok(mut ctx) => {
            let mut dst = vec![0u8; piece.len().saturating_sub(ctx.digest_size())];
            ctx.decrypt_verify(&mut dst, piece)
                .map(|()| dst)
                .map_err(|_| String::new())
        }
        Err(_) if aead == AEADAlgorithm::OCB => ocb::open(cipher, sk, ad, nonce, piece),
        Err(e) => Err(keys::short(&e)),
    }
}

mod ocb {
    //! OCB3 decryption (RFC 7253) with a 128-bit tag and a 120-bit nonce over AES, built on
    //! the AES block cipher.

    use super::SymmetricAlgorithm;
    use nettle::cipher::{Aes128, Aes192, Aes256, Cipher};

    type Block = [u8; 16];

    fn xor(a: &Block, b: &Block) -> Block {
        let mut o = [0u8; 16];
        for (i, x) in o.iter_mut().enumerate() {
            *x = a[i] ^ b[i];
        }
        o
    }

    /// RFC 7253 §2: double(S) = S << 1, xor 0x87 when the top bit was set.
    fn double(s: &Block) -> Block {
        let mut o = [0u8; 16];
        for (i, x) in o.iter_mut().enumerate() {
            *x = (s[i] << 1) | s.get(i + 1).map(|n| n >> 7).unwrap_or(0);
        }
        if s[0] & 0x80 != 0 {
            o[15] ^= 0x87;
        }
        o
    }

    type BlockFn = Box<dyn FnMut(&Block) -> Block>;

    fn aes<C: Cipher + 'static>(key: &[u8]) -> Result<(BlockFn, BlockFn), String> {
        let mut e = C::with_encrypt_key(key).map_err(|_| "bad session key".to_string())?;
        let mut d = C::with_decrypt_key(key).map_err(|_| "bad session key".to_string())?;
        Ok((
            Box::new(move |b: &Block| {
                let mut o = [0u8; 16];
                e.encrypt(&mut o, b);
                o
            }),
            Box::new(move |b: &Block| {
                let mut o = [0u8; 16];
                d.decrypt(&mut o, b);
                o
            }),
        ))
    }

    /// `L_i` (RFC 7253 §4.1), extended on demand.
    fn l_at(l: &mut Vec<Block>, i: usize) -> Block {
        while l.len() <= i {
            let next = double(&l[l.len() - 1]);
            l.push(next);
        }
        l[i]
    }

    pub(super) fn open(
        cipher: SymmetricAlgorithm,
        key: &[u8],
        ad: &[u8],
        nonce: &[u8],
        piece: &[u8],
    ) -> Result<Vec<u8>, String> {
        let (mut enc, mut dec) = match cipher {
            SymmetricAlgorithm::AES128 => aes::<Aes128>(key)?,
            SymmetricAlgorithm::AES192 => aes::<Aes192>(key)?,
            SymmetricAlgorithm::AES256 => aes::<Aes256>(key)?,
            _ => return Err("unsupported cipher for OCB".into()),
        };
        if nonce.len() != 15 || piece.len() < 16 {
            return Err(String::new());
        }
        let (ct, tag) = piece.split_at(piece.len() - 16);
        let l_star = enc(&[0u8; 16]);
        let l_dollar = double(&l_star);
        let mut l = vec![double(&l_dollar)];
        // RFC 7253 §4.2: Nonce = num2str(TAGLEN mod 128, 7) || zeros || 1 || N.
        let mut n: Block = [0u8; 16];
        n[0] = 0x01;
        n[1..].copy_from_slice(nonce);
        let bottom = (n[15] & 0x3f) as usize;
        let mut top = n;
        top[15] &= 0xc0;
        let ktop = enc(&top);
        let mut stretch = [0u8; 24];
        stretch[..16].copy_from_slice(&ktop);
        for i in 0..8 {
            stretch[16 + i] = ktop[i] ^ ktop[i + 1];
        }
        let mut offset: Block = [0u8; 16];
        let (byte, bit) = (bottom / 8, bottom % 8);
        for (i, o) in offset.iter_mut().enumerate() {
            let hi = stretch[byte + i];
            let lo = stretch.get(byte + i + 1).copied().unwrap_or(0);
            *o = if bit == 0 {
                hi
            } else {
                (hi << bit) | (lo >> (8 - bit))
            };
        }
        let mut checksum: Block = [0u8; 16];
        let mut out = Vec::with_capacity(ct.len());
        let mut blocks = ct.chunks_exact(16);
        for (i, c) in (&mut blocks).enumerate() {
            offset = xor(&offset, &l_at(&mut l, (i + 1).trailing_zeros() as usize));
            let mut cb: Block = [0u8; 16];
            cb.copy_from_slice(c);
            let p = xor(&offset, &dec(&xor(&cb, &offset)));
            checksum = xor(&checksum, &p);
            out.extend_from_slice(&p);
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            offset = xor(&offset, &l_star);
            let pad = enc(&offset);
            let mut padded: Block = [0u8; 16];
            for (i, c) in rest.iter().enumerate() {
                let p = c ^ pad[i];
                padded[i] = p;
                out.push(p);
            }
            padded[rest.len()] = 0x80;
            checksum = xor(&checksum, &padded);
        }
        let full = enc(&xor(&xor(&checksum, &offset), &l_dollar));
        // HASH(K, A), RFC 7253 §4.1.
        let mut sum: Block = [0u8; 16];
        let mut aoff: Block = [0u8; 16];
        let mut ablocks = ad.chunks_exact(16);
        for (i, a) in (&mut ablocks).enumerate() {
            aoff = xor(&aoff, &l_at(&mut l, (i + 1).trailing_zeros() as usize));
            let mut ab: Block = [0u8; 16];
            ab.copy_from_slice(a);
            sum = xor(&sum, &enc(&xor(&ab, &aoff)));
        }
        let arest = ablocks.remainder();
        if !arest.is_empty() {
            aoff = xor(&aoff, &l_star);
            let mut ab: Block = [0u8; 16];
            ab[..arest.len()].copy_from_slice(arest);
            ab[arest.len()] = 0x80;
            sum = xor(&sum, &enc(&xor(&ab, &aoff)));
        }
        let expect = xor(&full, &sum);
        // Compare the whole tag without an early exit.
        let diff = expect.iter().zip(tag).fold(0u8, |d, (a, b)| d | (a ^ b));
        if diff == 0 {
            Ok(out)
        } else {
            Err(String::new())
        }
    }
}
