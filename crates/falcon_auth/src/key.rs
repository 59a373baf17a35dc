//! Key material: generation, parsing, hashing, rate specifications.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::AuthError;

/// Every key starts with this, so leaked keys are easy to grep for.
pub const KEY_PREFIX: &str = "flk_";

/// A freshly generated key: the token (shown once) and what is stored.
pub struct NewKey {
    /// Public identifier, also embedded in the token.
    pub id: String,
    /// `flk_<id>_<secret>`: the only copy; never stored or logged.
    pub token: String,
    /// SHA-256 of the token.
    pub hash: [u8; 32],
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Generates a key with 256 bits of secret from the OS RNG.
pub fn generate() -> Result<NewKey, AuthError> {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id)
        .and_then(|()| getrandom::fill(&mut secret))
        .map_err(|e| AuthError::InvalidArgument(format!("no OS randomness: {e}")))?;
    let id = hex(&id);
    let token = format!("{KEY_PREFIX}{id}_{}", hex(&secret));
    let hash = hash_token(&token);
    Ok(NewKey { id, token, hash })
}

/// The stored form of a token. SHA-256, not a password hash such as
/// Argon2: keys carry 256 random bits, so brute force is hopeless whatever
/// the hash, and verification runs on every request, where Argon2's
/// deliberate ~50 ms would be the bottleneck.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The id embedded in a well-formed token.
pub fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16
        && secret.len() == 64
        && id
            .bytes()
            .chain(secret.bytes())
            .all(|b| b.is_ascii_hexdigit()))
    .then_some(id)
}

/// A token-bucket rate: `amount` requests per `period`, bursts of up to
/// `burst` (by default `amount`: a full period's worth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Rate {
    pub amount: u32,
    pub period: Duration,
    pub burst: u32,
}

impl Rate {
    /// Tokens added per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.amount) / self.period.as_secs_f64()
    }
}

impl FromStr for Rate {
    type Err = AuthError;

    /// `100/s`, `6000/m`, `10000/h`, optionally with a burst: `100/s:300`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            AuthError::InvalidArgument(format!(
                "invalid rate {s:?} (expected e.g. 100/s, 6000/m, 100/s:300)"
            ))
        };
        let (spec, burst) = match s.split_once(':') {
            Some((a, b)) => (a, Some(b.parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let (amount, unit) = spec.trim().split_once('/').ok_or_else(bad)?;
        let amount: u32 = amount.trim().parse().map_err(|_| bad())?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        let burst = burst.unwrap_or(amount);
        if amount == 0 || burst == 0 {
            return Err(bad());
        }
        Ok(Rate {
            amount,
            period,
            burst,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s",
            60 => "m",
            3600 => "h",
            _ => return write!(f, "{}/{:?}:{}", self.amount, self.period, self.burst),
        };
        write!(f, "{}/{unit}", self.amount)?;
        if self.burst != self.amount {
            write!(f, ":{}", self.burst)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.token, b.token);
        assert_eq!(token_id(&a.token), Some(a.id.as_str()));
        assert_eq!(a.hash, hash_token(&a.token));
        assert_eq!(a.token.len(), 4 + 16 + 1 + 64);
    }

    #[test]
    fn malformed_tokens_have_no_id() {
        for t in [
            "",
            "flk_",
            "flk_abc_def",
            "xyz_0123456789abcdef_00",
            "flk_0123456789abcdeg_",
        ] {
            assert_eq!(token_id(t), None, "{t}");
        }
        let good = generate().unwrap().token;
        assert_eq!(token_id(&good[..good.len() - 1]), None);
        assert_eq!(token_id(&format!("{good}0")), None);
    }

    #[test]
    fn rates() {
        let r: Rate = "100/s".parse().unwrap();
        assert_eq!(
            (r.amount, r.period, r.burst),
            (100, Duration::from_secs(1), 100)
        );
        assert_eq!(r.to_string(), "100/s");
        let r: Rate = "6000/m:50".parse().unwrap();
        assert_eq!(r.per_second(), 100.0);
        assert_eq!(r.to_string(), "6000/m:50");
        for bad in ["", "100", "0/s", "10/d", "x/s", "10/s:0", "10/s:x"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }
}
