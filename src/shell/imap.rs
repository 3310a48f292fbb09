//! STUB — replaced by the servers branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Tls,
    StartTls,
    Plain,
}
#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: String,
    pub password: String,
    pub folder: String,
    pub processed_folder: String,
    pub quarantine_folder: String,
    pub ca_file: Option<std::path::PathBuf>,
    pub max_message_bytes: u64,
    pub idle_max: std::time::Duration,
}
pub struct Fetched {
    pub uid: u32,
    pub size: u64,
    pub raw: Option<Vec<u8>>,
}
pub enum Wake {
    NewMail,
    Timeout,
}
pub struct ImapInbox;
impl ImapInbox {
    pub async fn connect(_s: &ImapSettings) -> anyhow::Result<ImapInbox> {
        anyhow::bail!("stub")
    }
    pub fn uid_validity(&self) -> u32 {
        0
    }
    pub async fn fetch_new(&mut self, _a: u32, _l: usize) -> anyhow::Result<Vec<Fetched>> {
        Ok(vec![])
    }
    pub async fn move_to_processed(&mut self, _u: u32) -> anyhow::Result<()> {
        Ok(())
    }
    pub async fn move_to_quarantine(&mut self, _u: u32) -> anyhow::Result<()> {
        Ok(())
    }
    pub async fn wait(&mut self, _m: std::time::Duration) -> anyhow::Result<Wake> {
        Ok(Wake::Timeout)
    }
    pub async fn logout(self) {}
}
pub async fn check_login(_s: &ImapSettings) -> anyhow::Result<()> {
    Ok(())
}
