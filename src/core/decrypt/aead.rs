//! Decryption of the LibrePGP "AEAD Encrypted Data" packet (tag 20, version 1; made by
//! `gpg --force-ocb` and GnuPG 2.3+ defaults). Layout (draft-koch-librepgp §5.16):
//! version, cipher, AEAD mode, chunk size octet c, IV; then chunks of 2^(c+6) bytes each
//! followed by a tag; then a final tag over the empty string. The nonce of chunk i is the IV
//! with the last 8 bytes XORed with i; the associated data is the packet header octet, the
//! four parameter octets, and i (8 bytes), plus the total length (8 bytes) for the final tag.
//!
//! The OCB mode itself is the RustCrypto `ocb3` crate's (over the `aes` crate, 15-byte nonce,
//! 16-byte tag); only the packet framing above is ours, because sequoia does not parse this
//! packet. EAX goes through sequoia's crypto backend.

use std::io::Read;

use aes::{Aes128, Aes192, Aes256};
use ocb3::aead::generic_array::typenum::Unsigned;
use ocb3::aead::{AeadCore, AeadInPlace, KeyInit};
use ocb3::consts::U15;
use ocb3::{GenericArray, Ocb3};

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
/// error string means the tag did not verify. OCB is the `ocb3` crate's; EAX is sequoia's.
fn open_chunk(
    aead: AEADAlgorithm,
    cipher: SymmetricAlgorithm,
    sk: &SessionKey,
    ad: &[u8],
    nonce: &[u8],
    piece: &[u8],
) -> Result<Vec<u8>, String> {
    if aead == AEADAlgorithm::OCB {
        return match cipher {
            SymmetricAlgorithm::AES128 => open_detached::<Ocb3<Aes128, U15>>(sk, ad, nonce, piece),
            SymmetricAlgorithm::AES192 => open_detached::<Ocb3<Aes192, U15>>(sk, ad, nonce, piece),
            SymmetricAlgorithm::AES256 => open_detached::<Ocb3<Aes256, U15>>(sk, ad, nonce, piece),
            _ => Err("unsupported cipher for OCB".into()),
        };
    }
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
        Err(e) => Err(keys::short(&e)),
    }
}

/// Decrypts `piece` (ciphertext followed by the tag) with the AEAD `A`. An empty error string
/// means the nonce or piece has the wrong size or the tag did not verify.
fn open_detached<A: AeadInPlace + KeyInit>(
    key: &[u8],
    ad: &[u8],
    nonce: &[u8],
    piece: &[u8],
) -> Result<Vec<u8>, String> {
    let aead = A::new_from_slice(key).map_err(|_| "bad session key".to_string())?;
    let tag_len = <A as AeadCore>::TagSize::to_usize();
    if nonce.len() != <A as AeadCore>::NonceSize::to_usize() || piece.len() < tag_len {
        return Err(String::new());
    }
    let (ct, tag) = piece.split_at(piece.len() - tag_len);
    let mut out = ct.to_vec();
    aead.decrypt_in_place_detached(
        GenericArray::from_slice(nonce),
        ad,
        &mut out,
        GenericArray::from_slice(tag),
    )
    .map(|()| out)
    .map_err(|_| String::new())
}

#[cfg(test)]
mod tests {
    //! RFC 7253 Appendix A sample results (AES-128, TAGLEN 128, K = 000102…0F). Those use a
    //! 12-byte nonce, so the crate is instantiated with U12 here; the 15-byte OpenPGP nonce
    //! is covered by the GnuPG-made messages of the interop corpus.

    use super::*;
    use ocb3::consts::U12;

    type Rfc = Ocb3<Aes128, U12>;

    const KEY: &str = "000102030405060708090A0B0C0D0E0F";

    /// (N, A, P, C || T)
    const VECTORS: &[(&str, &str, &str, &str)] = &[
        ("BBAA99887766554433221100", "", "", "785407BFFFC8AD9EDCC5520AC9111EE6"),
        (
            "BBAA99887766554433221101",
            "0001020304050607",
            "0001020304050607",
            "6820B3657B6F615A5725BDA0D3B4EB3A257C9AF1F8F03009",
        ),
        (
            "BBAA99887766554433221102",
            "0001020304050607",
            "",
            "81017F8203F081277152FADE694A0A00",
        ),
        (
            "BBAA99887766554433221103",
            "",
            "0001020304050607",
            "45DD69F8F5AAE72414054CD1F35D82760B2CD00D2F99BFA9",
        ),
        (
            "BBAA99887766554433221104",
            "000102030405060708090A0B0C0D0E0F",
            "000102030405060708090A0B0C0D0E0F",
            "571D535B60B277188BE5147170A9A22C3AD7A4FF3835B8C5701C1CCEC8FC3358",
        ),
        (
            "BBAA99887766554433221106",
            "",
            "000102030405060708090A0B0C0D0E0F",
            "5CE88EC2E0692706A915C00AEB8B2396F40E1C743F52436BDF06D8FA1ECA343D",
        ),
        (
            "BBAA99887766554433221107",
            "000102030405060708090A0B0C0D0E0F1011121314151617",
            "000102030405060708090A0B0C0D0E0F1011121314151617",
            "1CA2207308C87C010756104D8840CE1952F09673A448A122C92C62241051F57356D7F3C90BB0E07F",
        ),
        (
            "BBAA9988776655443322110D",
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2021222324252627",
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2021222324252627",
            "D5CA91748410C1751FF8A2F618255B68A0A12E093FF454606E59F9C1D0DDC54B65E8628E568BAD7AED07BA06A4A69483A7035490C5769E60",
        ),
        (
            "BBAA9988776655443322110E",
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2021222324252627",
            "",
            "C5CD9D1850C141E358649994EE701B68",
        ),
        (
            "BBAA9988776655443322110F",
            "",
            "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2021222324252627",
            "4412923493C57D5DE0D700F753CCE0D1D2D95060122E9F15A5DDBFC5787E50B5CC55EE507BCB084E479AD363AC366B95A98CA5F3000B1479",
        ),
    ];

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex")
    }

    #[test]
    fn ocb_rfc7253_vectors_decrypt() {
        let key = h(KEY);
        for (n, a, p, c) in VECTORS {
            let got = open_detached::<Rfc>(&key, &h(a), &h(n), &h(c));
            assert_eq!(got, Ok(h(p)), "N = {n}");
        }
    }

    #[test]
    fn ocb_rfc7253_vectors_encrypt() {
        // The same crate instance seals to the RFC's C || T.
        let ocb = Rfc::new_from_slice(&h(KEY)).expect("key");
        for (n, a, p, c) in VECTORS {
            let mut buf = h(p);
            let tag = ocb
                .encrypt_in_place_detached(GenericArray::from_slice(&h(n)), &h(a), &mut buf)
                .expect("seal");
            buf.extend_from_slice(&tag);
            assert_eq!(hex::encode_upper(buf), *c, "N = {n}");
        }
    }

    #[test]
    fn ocb_rfc7253_tampered_fails() {
        let key = h(KEY);
        for (n, a, _, c) in VECTORS {
            // A flipped bit in the tag, and (when there is one) in the ciphertext.
            let mut bad_tag = h(c);
            *bad_tag.last_mut().unwrap() ^= 0x01;
            assert_eq!(
                open_detached::<Rfc>(&key, &h(a), &h(n), &bad_tag),
                Err(String::new()),
                "N = {n}"
            );
            let mut bad_ct = h(c);
            if bad_ct.len() > 16 {
                bad_ct[0] ^= 0x80;
                assert!(open_detached::<Rfc>(&key, &h(a), &h(n), &bad_ct).is_err());
            }
            // The wrong associated data.
            let mut ad = h(a);
            ad.push(0);
            assert!(open_detached::<Rfc>(&key, &ad, &h(n), &h(c)).is_err());
        }
    }

    #[test]
    fn ocb_wrong_sizes_are_refused() {
        let key = h(KEY);
        let (n, a, _, c) = VECTORS[1];
        // A nonce of the wrong length, a piece shorter than a tag, a key of the wrong length.
        assert!(open_detached::<Rfc>(&key, &h(a), &h(&n[2..]), &h(c)).is_err());
        assert!(open_detached::<Rfc>(&key, &h(a), &h(n), &h(c)[..15]).is_err());
        assert!(open_detached::<Rfc>(&key[..15], &h(a), &h(n), &h(c)).is_err());
        // The production instance wants the 15-byte OpenPGP nonce.
        assert!(open_detached::<Ocb3<Aes128, U15>>(&key, &h(a), &h(n), &h(c)).is_err());
    }
}
