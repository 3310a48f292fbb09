//! The clock: the only place that reads the system time. `SECMAIL_NOW` (RFC 3339) pins it, for
//! scenario tests and demonstrations.
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn from_env() -> Clock {
        std::env::var("SECMAIL_NOW")
            .ok()
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| Clock::Fixed(t.with_timezone(&Utc)))
            .unwrap_or(Clock::System)
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            // The one read of the system time (clippy.toml forbids it elsewhere).
            #[allow(clippy::disallowed_methods)]
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }
}
