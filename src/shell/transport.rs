//! STUB — replaced by the servers branch.
#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(SmtpSettings),
    File { dir: std::path::PathBuf },
}
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: crate::shell::imap::Security,
    pub user: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<std::path::PathBuf>,
    pub helo_name: Option<String>,
}
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Transient(String),
    #[error("{0}")]
    Permanent(String),
}
pub struct Sender {
    t: Transport,
}
impl Sender {
    pub fn new(t: &Transport) -> anyhow::Result<Sender> {
        Ok(Sender { t: t.clone() })
    }
    pub async fn send(
        &self,
        _f: &str,
        _r: &[String],
        raw: &[u8],
        stem: &str,
    ) -> Result<(), SendError> {
        if let Transport::File { dir } = &self.t {
            std::fs::create_dir_all(dir).ok();
            std::fs::write(dir.join(format!("{stem}.eml")), raw)
                .map_err(|e| SendError::Transient(e.to_string()))?;
        }
        Ok(())
    }
    pub async fn check(&self) -> anyhow::Result<()> {
        Ok(())
    }
}
