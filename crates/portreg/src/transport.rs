//! Transport protocols a port is assigned on.

use std::fmt;
use std::str::FromStr;

/// A transport protocol. The registry assigns ports on the first four; services(5)
/// files may name others (macOS has `ddp` and `divert`), which are kept as they are.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// Transmission Control Protocol.
    Tcp,
    /// User Datagram Protocol.
    Udp,
    /// Stream Control Transmission Protocol.
    Sctp,
    /// Datagram Congestion Control Protocol.
    Dccp,
    /// Any other protocol token found in a services(5) file, lower-cased.
    Other(String),
}

impl Transport {
    /// The four transports the IANA registry assigns ports on.
    pub const REGISTRY: [Transport; 4] = [
        Transport::Tcp,
        Transport::Udp,
        Transport::Sctp,
        Transport::Dccp,
    ];

    /// One of the registry's four transports by its token, any case (`TCP`); `None` for
    /// any other protocol.
    pub fn known(token: &str) -> Option<Transport> {
        Transport::REGISTRY
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(token))
    }

    /// The protocol token as written in every registry format.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Sctp => "sctp",
            Transport::Dccp => "dccp",
            Transport::Other(other) => other,
        }
    }
}

/// Why a protocol token is not a transport.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a protocol name of letters, digits, '-' or '_'")]
pub struct InvalidTransport;

impl FromStr for Transport {
    type Err = InvalidTransport;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        let lower = token.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            "sctp" => Transport::Sctp,
            "dccp" => Transport::Dccp,
            _ if !lower.is_empty()
                && lower.len() <= 32
                && lower
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Transport::Other(lower)
            }
            _ => return Err(InvalidTransport),
        })
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Transport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Transport {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let token = <String as serde::Deserialize>::deserialize(deserializer)?;
        token.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_and_other_protocols() {
        assert_eq!("TCP".parse(), Ok(Transport::Tcp));
        assert_eq!("ddp".parse(), Ok(Transport::Other("ddp".into())));
        assert_eq!("".parse::<Transport>(), Err(InvalidTransport));
        assert_eq!("t/cp".parse::<Transport>(), Err(InvalidTransport));
    }
}
