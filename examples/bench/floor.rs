//! The floor: the same OpenPGP work done directly with sequoia in one process (one decrypt and
//! verify, four sign-and-encrypts per report), and the time to parse the corpus alone.
use crate::meter::{self, Measured, Meter};
use openpgp::crypto::SessionKey;
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::types::SymmetricAlgorithm;
use openpgp::KeyHandle;
use secmail::core::keys::{Cert, ProjectKeys};
use secmail::core::seal;
use sequoia_openpgp as openpgp;
use std::io::Read;
use std::time::{Instant, SystemTime};

struct Helper<'a> {
    secret: &'a Cert,
    certs: &'a [Cert],
    now: SystemTime,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.to_vec())
    }
    fn check(&mut self, _structure: MessageStructure) -> openpgp::Result<()> {
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        let policy = StandardPolicy::new();
        for ka in self
            .secret
            .keys()
            .with_policy(&policy, self.now)
            .secret()
            .for_transport_encryption()
            .for_storage_encryption()
        {
            let mut pair = ka.key().clone().into_keypair()?;
            for p in pkesks {
                if p.decrypt(&mut pair, sym_algo)
                    .map(|(algo, sk)| decrypt(algo, &sk))
                    .unwrap_or(false)
                {
                    return Ok(Some(self.secret.clone()));
                }
            }
        }
        Ok(None)
    }
}

pub struct Floor {
    /// One thread: its CPU is the floor's CPU per report.
    pub m: Measured,
    pub parse_per_s: f64,
}

pub fn measure(
    project_secret: &Cert,
    project: &ProjectKeys,
    reporters: &[Cert],
    team: &[Cert],
    reports: &[(String, Vec<u8>, &Cert)],
    now: SystemTime,
) -> Floor {
    let (meter, cpu0) = (Meter::start(), meter::thread_cpu());
    for (armored, _, reporter) in reports {
        let helper = Helper {
            secret: project_secret,
            certs: reporters,
            now,
        };
        let policy = StandardPolicy::new();
        let mut d = DecryptorBuilder::from_bytes(armored.as_bytes())
            .unwrap()
            .with_policy(&policy, now, helper)
            .unwrap();
        let mut plain = Vec::new();
        d.read_to_end(&mut plain).unwrap();
        let mut recipients: Vec<&Cert> = vec![reporter];
        recipients.extend(team.iter());
        for r in recipients {
            seal::sign_and_encrypt(project, &[r], &plain, now).unwrap();
        }
    }
    let m = meter.stop(meter::thread_cpu() - cpu0, true);
    let t = Instant::now();
    let mut parts = 0;
    for (_, raw, _) in reports {
        if let Some(m) = mail_parser::MessageParser::default().parse(raw) {
            parts += m.parts.len();
        }
    }
    assert!(parts > 0);
    let parse_per_s = reports.len() as f64 / t.elapsed().as_secs_f64();
    Floor { m, parse_per_s }
}
