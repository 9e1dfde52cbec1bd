//! Port spans (`80`, `6000-6063`) and the three ranges of RFC 6335.

use std::fmt;
use std::str::FromStr;

/// One port or an inclusive range of ports, `low <= high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpan {
    /// First port of the span.
    pub low: u16,
    /// Last port of the span; equal to `low` for a single port.
    pub high: u16,
}

impl PortSpan {
    /// A span of one port.
    pub fn single(port: u16) -> Self {
        PortSpan {
            low: port,
            high: port,
        }
    }

    /// A span from `low` to `high`, or `None` when `low > high`.
    pub fn new(low: u16, high: u16) -> Option<Self> {
        (low <= high).then_some(PortSpan { low, high })
    }

    /// Whether `port` falls in the span.
    pub fn contains(&self, port: u16) -> bool {
        self.low <= port && port <= self.high
    }

    /// Ascending ports gathered into as few spans as they make, then cut to the first
    /// `count` ports (all without a count).
    pub fn compact(ports: impl IntoIterator<Item = u16>, count: Option<usize>) -> Vec<PortSpan> {
        let mut spans: Vec<PortSpan> = Vec::new();
        for port in ports.into_iter().take(count.unwrap_or(usize::MAX)) {
            match spans.last_mut() {
                Some(last) if last.high.checked_add(1) == Some(port) => last.high = port,
                _ => spans.push(PortSpan::single(port)),
            }
        }
        spans
    }

    /// Whether the span is a single port.
    pub fn is_single(&self) -> bool {
        self.low == self.high
    }
}

/// Why a port span does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPortSpan {
    /// A part is not a number from 0 to 65535.
    #[error("a port number from 0 to 65535")]
    NotAPort,
    /// The range runs backwards.
    #[error("a range whose first port is not above its last")]
    Backwards,
}

impl FromStr for PortSpan {
    type Err = InvalidPortSpan;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let port = |part: &str| -> Result<u16, InvalidPortSpan> {
            if part.is_empty() || part.len() > 5 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidPortSpan::NotAPort);
            }
            part.parse().map_err(|_| InvalidPortSpan::NotAPort)
        };
        match text.split_once('-') {
            Some((low, high)) => PortSpan::new(port(low.trim())?, port(high.trim())?)
                .ok_or(InvalidPortSpan::Backwards),
            None => Ok(PortSpan::single(port(text)?)),
        }
    }
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// The three port ranges of RFC 6335 §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum RangeClass {
    /// System (Well Known) ports, 0-1023: IETF Review or IESG Approval.
    System,
    /// User (Registered) ports, 1024-49151: IETF Review, IESG Approval or Expert Review.
    User,
    /// Dynamic and/or Private ports, 49152-65535: never assigned.
    Dynamic,
}

impl RangeClass {
    /// The lower-case token used in JSON (`system`, `user`, `dynamic`).
    pub fn as_str(self) -> &'static str {
        match self {
            RangeClass::System => "system",
            RangeClass::User => "user",
            RangeClass::Dynamic => "dynamic",
        }
    }

    /// The class a port falls in.
    pub fn of(port: u16) -> Self {
        match port {
            0..=1023 => RangeClass::System,
            1024..=49151 => RangeClass::User,
            _ => RangeClass::Dynamic,
        }
    }

    /// A range by name (`user`, `system`, `dynamic`, or the legacy `registered`,
    /// `well-known`, `private`), or `LO-HI`, or one port.
    pub fn parse_range(text: &str) -> Option<PortSpan> {
        match text.to_ascii_lowercase().as_str() {
            "user" | "registered" => Some(RangeClass::User.span()),
            "system" | "well-known" => Some(RangeClass::System.span()),
            "dynamic" | "private" => Some(RangeClass::Dynamic.span()),
            other => other.parse().ok(),
        }
    }

    /// The ports of the class.
    pub fn span(self) -> PortSpan {
        match self {
            RangeClass::System => PortSpan { low: 0, high: 1023 },
            RangeClass::User => PortSpan {
                low: 1024,
                high: 49151,
            },
            RangeClass::Dynamic => PortSpan {
                low: 49152,
                high: 65535,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_ports_and_ranges() {
        assert_eq!("80".parse(), Ok(PortSpan::single(80)));
        assert_eq!(
            "6000-6063".parse(),
            Ok(PortSpan {
                low: 6000,
                high: 6063
            })
        );
        assert_eq!("65536".parse::<PortSpan>(), Err(InvalidPortSpan::NotAPort));
        assert_eq!("9-8".parse::<PortSpan>(), Err(InvalidPortSpan::Backwards));
        assert_eq!("+8".parse::<PortSpan>(), Err(InvalidPortSpan::NotAPort));
        assert_eq!(
            PortSpan {
                low: 6000,
                high: 6063
            }
            .to_string(),
            "6000-6063"
        );
    }

    #[test]
    fn compacts_ports() {
        let spans = PortSpan::compact([1, 2, 3, 7, 9, 10], None);
        assert_eq!(
            spans,
            [
                PortSpan { low: 1, high: 3 },
                PortSpan::single(7),
                PortSpan { low: 9, high: 10 }
            ]
        );
        assert_eq!(
            PortSpan::compact([1, 2, 3, 7], Some(2)),
            [PortSpan { low: 1, high: 2 }]
        );
    }

    #[test]
    fn classifies_ports() {
        assert_eq!(RangeClass::of(1023), RangeClass::System);
        assert_eq!(RangeClass::of(1024), RangeClass::User);
        assert_eq!(RangeClass::of(49151), RangeClass::User);
        assert_eq!(RangeClass::of(49152), RangeClass::Dynamic);
    }
}
