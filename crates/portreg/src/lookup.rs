//! Questions asked of a registry: what a port is, what a name is, which records match
//! a text, which ports are free. The same for the embedded registry, an installed one
//! and one read from a file, since all are [`CompiledRegistry`].

use std::fmt;
use std::str::FromStr;

use memchr::memmem;

use crate::compiled::{CompiledRegistry, NameKind, RecordRef};
use crate::port_range::{PortSpan, RangeClass};
use crate::record::{Record, Reference, ReferenceKind, Status};
use crate::rules;
use crate::transport::Transport;

/// What a user asks about: a port, a range, or a name, maybe with a transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// `22`, `22/tcp`, `6000-6010`.
    Ports {
        /// The port or range.
        span: PortSpan,
        /// The transport, when given.
        transport: Option<Transport>,
    },
    /// `ssh`, `ssh/udp`, `_ssh._tcp`.
    Name {
        /// The service name as given (compared case-insensitively).
        name: String,
        /// The transport, when given.
        transport: Option<Transport>,
    },
}

/// Why a query does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing was asked.
    #[error("empty query")]
    Empty,
    /// A number that is no port.
    #[error("{0:?} is not a port: ports run from 0 to 65535")]
    Port(String),
    /// A range that runs backwards.
    #[error("{0:?} is not a range: its first port is above its last")]
    Range(String),
    /// A protocol that is not a transport.
    #[error("{0:?} is not a transport protocol: use tcp, udp, sctp or dccp")]
    Transport(String),
}

impl FromStr for Query {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(QueryError::Empty);
        }
        // DNS-SD: `_service._proto`.
        if let Some(rest) = text.strip_prefix('_') {
            if let Some((name, proto)) = rest.split_once("._") {
                let transport = proto
                    .parse()
                    .map_err(|_| QueryError::Transport(proto.to_owned()))?;
                return Ok(Query::Name {
                    name: name.to_owned(),
                    transport: Some(transport),
                });
            }
        }
        // Only the registry's four transports split a query: `914c/g` is a name.
        let (subject, transport) = match text.rsplit_once('/') {
            Some((subject, proto)) if !subject.is_empty() => {
                match Transport::known(proto) {
                    Some(transport) => (subject, Some(transport)),
                    // A port with an unknown protocol is a mistake; a name may hold a
                    // slash (`914c/g`).
                    None if is_numeric(subject) => {
                        return Err(QueryError::Transport(proto.to_owned()))
                    }
                    None => (text, None),
                }
            }
            _ => (text, None),
        };
        if is_numeric(subject) {
            let span = subject.parse::<PortSpan>().map_err(|e| match e {
                crate::port_range::InvalidPortSpan::Backwards => {
                    QueryError::Range(subject.to_owned())
                }
                crate::port_range::InvalidPortSpan::NotAPort => {
                    QueryError::Port(subject.to_owned())
                }
            })?;
            return Ok(Query::Ports { span, transport });
        }
        Ok(Query::Name {
            name: subject.to_owned(),
            transport,
        })
    }
}

/// Whether a query names ports (`22`, `6000-6010`) rather than a service.
fn is_numeric(subject: &str) -> bool {
    subject.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && subject.bytes().any(|b| b.is_ascii_digit())
}

/// How a record answers a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The service assigned there: the first assigned name on its port and transport.
    Canonical,
    /// Another name for it: a services(5) alias, or a later name on the same port and
    /// transport (`www` beside `http`).
    Alias,
    /// A historic name (`whois++`) or an earlier assignment.
    Historic,
    /// A row without a name: Reserved, Unassigned, private use.
    Unnamed,
}

impl Role {
    /// The lower-case token used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Canonical => "canonical",
            Role::Alias => "alias",
            Role::Historic => "historic",
            Role::Unnamed => "unnamed",
        }
    }
}

/// A record found by a lookup.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit<'a> {
    /// The record.
    pub record: RecordRef<'a>,
    /// How it answers.
    pub role: Role,
}

/// How well a record matches a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchTier {
    /// The name (or an alias) is the text.
    ExactName,
    /// The name starts with the text.
    NamePrefix,
    /// The name contains the text.
    NameSubstring,
    /// A whole word of the description is the text.
    DescriptionWord,
    /// The description contains the text.
    DescriptionSubstring,
}

impl MatchTier {
    /// The lower-case token used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchTier::ExactName => "exact-name",
            MatchTier::NamePrefix => "name-prefix",
            MatchTier::NameSubstring => "name-substring",
            MatchTier::DescriptionWord => "description-word",
            MatchTier::DescriptionSubstring => "description-substring",
        }
    }
}

/// A record found by a search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchHit<'a> {
    /// The record.
    pub record: RecordRef<'a>,
    /// How well it matches.
    pub tier: MatchTier,
}

/// What the rules say about a port, whatever the registry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortClass {
    /// The port.
    pub port: u16,
    /// Its range.
    pub class: RangeClass,
    /// How ports of that range are assigned.
    pub procedure: &'static str,
    /// Whether RFC 6335 reserves it.
    pub reserved: bool,
}

impl PortClass {
    /// The class of `port`.
    pub fn of(port: u16) -> Self {
        let class = RangeClass::of(port);
        PortClass {
            port,
            class,
            procedure: rules::procedure(class),
            reserved: rules::is_reserved(port),
        }
    }
}

impl fmt::Display for PortClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (range, procedure) = rules::describe(self.class);
        match self.class {
            RangeClass::Dynamic => write!(f, "{range}, {procedure}"),
            _ => write!(f, "{range}, assigned by {procedure}"),
        }
    }
}

impl CompiledRegistry {
    /// The records that cover `port`, the canonical assignment first.
    pub fn records_on_port(&self, port: u16) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        self.port_postings(port)
            .iter()
            .map(move |&index| self.record_at(index))
    }

    /// The records named `name` (any case), with how each carries it: as its name, an
    /// alias, or the name of an earlier assignment.
    pub fn records_named<'a>(
        &'a self,
        name: &str,
    ) -> impl Iterator<Item = (RecordRef<'a>, NameKind)> + 'a {
        let group = self.name_group(name);
        group
            .into_iter()
            .flat_map(move |first| self.name_group_records(first))
    }

    /// Every record that covers `port` (on `transport`, when given), the canonical
    /// assignment first, each marked with its role.
    pub fn lookup_port(&self, port: u16, transport: Option<&Transport>) -> Vec<Hit<'_>> {
        let mut hits: Vec<Hit<'_>> = Vec::new();
        for record in self.records_on_port(port) {
            if transport.is_some_and(|t| !record.covers_transport(t)) {
                continue;
            }
            let role = self.port_role(&record, &hits);
            hits.push(Hit { record, role });
        }
        hits
    }

    fn port_role(&self, record: &RecordRef<'_>, earlier: &[Hit<'_>]) -> Role {
        if record.name().is_none() {
            return Role::Unnamed;
        }
        if matches!(record.status(), Status::Historic | Status::Deassigned) {
            return Role::Historic;
        }
        let transport = record.transport();
        let taken = earlier
            .iter()
            .any(|hit| hit.role == Role::Canonical && hit.record.transport() == transport);
        if taken {
            Role::Alias
        } else {
            Role::Canonical
        }
    }

    /// Every record over a range of ports, each once, in port order.
    pub fn lookup_span(&self, span: PortSpan, transport: Option<&Transport>) -> Vec<Hit<'_>> {
        self.span_hits(span, transport.cloned()).collect()
    }

    /// [`lookup_span`](Self::lookup_span) as it goes: a port at a time, so that a caller
    /// that wants a page of a wide range never holds the whole answer.
    pub fn span_hits(
        &self,
        span: PortSpan,
        transport: Option<Transport>,
    ) -> impl Iterator<Item = Hit<'_>> + '_ {
        let mut seen = std::collections::HashSet::new();
        (span.low..=span.high)
            .flat_map(move |port| self.lookup_port(port, transport.as_ref()))
            .filter(move |hit| seen.insert(hit.record.index()))
    }

    /// The records named `name`, any case, aliases and historic names included; the
    /// DNS-SD form `_ssh._tcp` is taken apart by [`Query`], not here.
    pub fn lookup_name(&self, name: &str, transport: Option<&Transport>) -> Vec<Hit<'_>> {
        let mut hits = Vec::new();
        for (record, kind) in self.records_named(name) {
            if transport.is_some_and(|t| !record.covers_transport(t)) {
                continue;
            }
            let role = match kind {
                NameKind::Alias => Role::Alias,
                NameKind::Previous => Role::Historic,
                NameKind::Name => match record.ports() {
                    Some(span) => {
                        let on_port = self.lookup_port(span.low, record.transport().as_ref());
                        on_port
                            .iter()
                            .find(|hit| hit.record == record)
                            .map_or(Role::Canonical, |hit| hit.role)
                    }
                    None if record.status() == Status::Historic => Role::Historic,
                    None => Role::Canonical,
                },
            };
            hits.push(Hit { record, role });
        }
        hits.sort_by_key(|hit| (role_rank(hit.role), hit.record.index()));
        hits
    }

    /// Answers a [`Query`].
    pub fn lookup(&self, query: &Query) -> Vec<Hit<'_>> {
        match query {
            Query::Ports { span, transport } if span.is_single() => {
                self.lookup_port(span.low, transport.as_ref())
            }
            Query::Ports { span, transport } => self.lookup_span(*span, transport.as_ref()),
            Query::Name { name, transport } => self.lookup_name(name, transport.as_ref()),
        }
    }

    /// The names closest to `name` (any case), for "did you mean": at most `limit`, each
    /// within two edits (one for short names), closest first.
    pub fn suggest(&self, name: &str, limit: usize) -> Vec<String> {
        let wanted = name.to_lowercase();
        let most = if wanted.chars().count() <= 3 { 1 } else { 2 };
        let (names, _) = self.name_text();
        let mut near: Vec<(usize, &str)> = names
            .split(|&b| b == b'\n')
            .filter_map(|line| std::str::from_utf8(line).ok())
            .filter(|candidate| !candidate.is_empty() && *candidate != wanted)
            .filter(|candidate| candidate.len().abs_diff(wanted.len()) <= most)
            .map(|candidate| (strsim::osa_distance(&wanted, candidate), candidate))
            .filter(|(distance, _)| *distance <= most)
            .collect();
        near.sort();
        near.into_iter()
            .take(limit)
            .map(|(_, candidate)| candidate.to_owned())
            .collect()
    }

    /// Records whose names or descriptions contain `text` (literally, any case), on any of
    /// `transports` (all when empty), best first: exact name, name prefix, name substring,
    /// description word, description substring; ties in name order.
    pub fn search(&self, text: &str, transports: &[Transport], limit: usize) -> Vec<SearchHit<'_>> {
        let needle = text.trim().to_lowercase();
        if needle.is_empty() || needle.contains('\n') {
            return Vec::new();
        }
        let mut best: Vec<Option<MatchTier>> = vec![None; self.len()];
        let mut note = |index: usize, tier: MatchTier| {
            if let Some(slot) = best.get_mut(index) {
                if slot.is_none_or(|t| tier < t) {
                    *slot = Some(tier);
                }
            }
        };
        let finder = memmem::Finder::new(needle.as_bytes());
        let (names, name_index) = self.name_text();
        let starts: Vec<u32> = name_index.chunks_exact(2).map(|pair| pair[0]).collect();
        for at in finder.find_iter(names) {
            let group = starts
                .partition_point(|&start| start as usize <= at)
                .saturating_sub(1);
            let Some(start) = starts.get(group).map(|&s| s as usize) else {
                continue;
            };
            let end = starts
                .get(group + 1)
                .map_or(names.len(), |&s| s as usize)
                .saturating_sub(1);
            let tier = match (at == start, end.saturating_sub(start) == needle.len()) {
                (true, true) => MatchTier::ExactName,
                (true, false) => MatchTier::NamePrefix,
                _ => MatchTier::NameSubstring,
            };
            let first = name_index.get(group * 2 + 1).copied().unwrap_or(u32::MAX);
            for (record, kind) in self.name_group_records(first as usize) {
                if kind != NameKind::Previous {
                    note(record.index(), tier);
                }
            }
        }
        let (descriptions, offsets) = self.description_text();
        for at in finder.find_iter(descriptions) {
            let record = offsets
                .partition_point(|&start| start as usize <= at)
                .saturating_sub(1);
            let before = descriptions[..at].last().copied();
            let after = descriptions.get(at + needle.len()).copied();
            let boundary = |b: Option<u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
            let word = boundary(before) && boundary(after);
            note(
                record,
                if word {
                    MatchTier::DescriptionWord
                } else {
                    MatchTier::DescriptionSubstring
                },
            );
        }
        let mut hits: Vec<SearchHit<'_>> = best
            .iter()
            .enumerate()
            .filter_map(|(index, tier)| {
                Some(SearchHit {
                    record: self.record(index)?,
                    tier: (*tier)?,
                })
            })
            .filter(|hit| {
                transports.is_empty() || transports.iter().any(|t| hit.record.covers_transport(t))
            })
            .collect();
        // Within a tier, current assignments before Reserved rows, and those before
        // historic and de-assigned names.
        let currency = |hit: &SearchHit<'_>| match hit.record.status() {
            Status::Assigned | Status::Temporary | Status::Private => 0,
            Status::Reserved => 1,
            Status::Historic | Status::Deassigned => 2,
            Status::Unassigned => 3,
        };
        hits.sort_by(|a, b| {
            (
                a.tier,
                currency(a),
                a.record.name().map(str::to_lowercase),
                a.record.index(),
            )
                .cmp(&(
                    b.tier,
                    currency(b),
                    b.record.name().map(str::to_lowercase),
                    b.record.index(),
                ))
        });
        hits.truncate(limit);
        hits
    }

    /// The service on `port`, as libc's `getservbyport` finds it in a services file of
    /// this registry: the port's canonical name first; a range answers for every port
    /// in it; `protocol` none means any. See [`Service`].
    pub fn service_by_port(&self, port: u16, protocol: Option<&[u8]>) -> Option<Service<'_>> {
        self.records_on_port(port).find_map(|record| {
            let name = record.name()?;
            let protocol = record.protocols_served().find(|p| wanted(protocol, p))?;
            Some(Service {
                record,
                name,
                port,
                protocol,
            })
        })
    }

    /// The service called `name` (its name or one of its aliases, compared byte for byte
    /// as libc does), at the first port of its span; `protocol` none means any.
    pub fn service_by_name(&self, name: &str, protocol: Option<&[u8]>) -> Option<Service<'_>> {
        self.services_named(name.as_bytes()).find_map(|record| {
            Some(Service {
                record,
                name: record.name()?,
                port: record.ports()?.low,
                protocol: record.protocols_served().find(|p| wanted(protocol, p))?,
            })
        })
    }

    /// The one record that speaks for `port` on `protocol` (any when none), for a log
    /// line or an export keyed by port and transport: the service on it
    /// ([`CompiledRegistry::service_by_port`]), else the first record covering it (an
    /// Unassigned or Reserved row, whose name is none); `None` where the registry has
    /// nothing (the Dynamic range).
    pub fn canonical_record(&self, port: u16, protocol: Option<&[u8]>) -> Option<RecordRef<'_>> {
        if let Some(service) = self.service_by_port(port, protocol) {
            return Some(service.record);
        }
        // Only nameless rows: a named record that does not serve the protocol (one
        // without a transport, asked for sctp) does not speak for it.
        self.records_on_port(port).find(|record| {
            record.name().is_none()
                && match (record.transport_str(), protocol) {
                    (Some(own), Some(asked)) => own.as_bytes() == asked,
                    _ => true,
                }
        })
    }

    /// Like libc's `getservbyname`: the port of the service `name` on `protocol`.
    pub fn getservbyname(&self, name: &str, protocol: &str) -> Option<u16> {
        self.service_by_name(name, Some(protocol.as_bytes()))
            .map(|service| service.port)
    }

    /// Like libc's `getservbyport`: the name of the service on `port` and `protocol`.
    pub fn getservbyport(&self, port: u16, protocol: &str) -> Option<&str> {
        self.service_by_port(port, Some(protocol.as_bytes()))
            .map(|service| service.name)
    }
}

fn wanted(asked: Option<&[u8]>, protocol: &str) -> bool {
    asked.is_none_or(|asked| asked == protocol.as_bytes())
}

/// The protocols a record without a transport is a service on: the legacy list wrote
/// such assignments without `/tcp` or `/udp`, meaning both.
const UNSPECIFIED_TRANSPORT: [&str; 2] = ["tcp", "udp"];

impl<'a> RecordRef<'a> {
    /// The protocols the record is a service on, as services(5) writes them: its
    /// transport, or `tcp` and `udp` when it has none; none when it has no name or port.
    pub fn service_protocols(&self) -> impl Iterator<Item = &'a str> + 'a {
        let serves = self.name().is_some() && self.ports().is_some();
        self.protocols_served().filter(move |_| serves)
    }

    /// [`RecordRef::service_protocols`] of a record known to have a name and a port.
    fn protocols_served(&self) -> impl Iterator<Item = &'a str> + 'a {
        let own = self.transport_str();
        let unspecified = own.is_none().then_some(UNSPECIFIED_TRANSPORT);
        own.into_iter().chain(unspecified.into_iter().flatten())
    }
}

/// A service as libc's `struct servent` carries it (name, aliases, port, protocol),
/// borrowed from the registry: what `getservbyname` and `getservbyport` answer, and
/// what portreg's name service gives every program on a machine.
///
/// Services are the records with a name and a port. A record's aliases are the
/// service's; a record without a transport is a service on tcp and on udp.
#[derive(Clone, Copy, Debug)]
pub struct Service<'a> {
    /// The record.
    pub record: RecordRef<'a>,
    /// The name.
    pub name: &'a str,
    /// The port.
    pub port: u16,
    /// The protocol.
    pub protocol: &'a str,
}

/// A record that answers a query, owned, with its role.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The record.
    pub record: Record,
    /// How it answers.
    pub role: Role,
}

/// The records that answer `query` on any of `transports` (all when empty). The
/// Unassigned and Reserved rows of a range come only with `all`; a port that RFC 6335
/// reserves and the registry does not list is answered with a Reserved record.
pub fn answer(
    registry: &CompiledRegistry,
    query: &Query,
    transports: &[Transport],
    all: bool,
) -> Vec<Answer> {
    let mut answers: Vec<Answer> = answers(registry, query, transports, all).collect();
    if let Query::Ports { span, transport } = query {
        if answers.is_empty() && span.is_single() && rules::is_reserved(span.low) {
            let wanted: Vec<Transport> = match (transport, transports.is_empty()) {
                (Some(t), _) => vec![t.clone()],
                (None, false) => transports.to_vec(),
                (None, true) => vec![Transport::Tcp, Transport::Udp],
            };
            answers.extend(wanted.into_iter().map(|t| Answer {
                record: reserved_by_rule(span.low, t),
                role: Role::Unnamed,
            }));
        }
    }
    answers
}

/// The records that answer `query`, as [`answer`] gives them, but one at a time: a range
/// is walked a port at a time (for pages of wide ranges), and the Reserved record RFC 6335
/// implies for an unlisted reserved port is not added.
pub fn answers<'a>(
    registry: &'a CompiledRegistry,
    query: &Query,
    transports: &'a [Transport],
    all: bool,
) -> impl Iterator<Item = Answer> + 'a {
    let is_range = matches!(query, Query::Ports { span, .. } if !span.is_single());
    let hits: Box<dyn Iterator<Item = Hit<'a>> + 'a> = match query {
        Query::Ports { span, transport } if is_range => {
            Box::new(registry.span_hits(*span, transport.clone()))
        }
        _ => Box::new(covered_rows_left_out(registry.lookup(query)).into_iter()),
    };
    hits.filter(move |hit| {
        transports.is_empty() || transports.iter().any(|t| hit.record.covers_transport(t))
    })
    .filter(move |hit| all || !is_range || hit.role != Role::Unnamed)
    .map(|hit| Answer {
        record: hit.record.to_record(),
        role: hit.role,
    })
}

/// An Unassigned row says nobody holds the port: where a named record of another layer
/// (a local name) holds it, the row is left out (IANA's own rows never overlap so).
fn covered_rows_left_out(hits: Vec<Hit<'_>>) -> Vec<Hit<'_>> {
    let held = hits.iter().any(|hit| hit.record.name().is_some());
    hits.into_iter()
        .filter(|hit| !(held && hit.record.status() == Status::Unassigned))
        .collect()
}

/// RFC 6335 reserves ports 0, 1024 and 49151 even where a source does not list them.
fn reserved_by_rule(port: u16, transport: Transport) -> Record {
    Record {
        ports: Some(PortSpan::single(port)),
        transport: Some(transport),
        description: Some("Reserved".to_owned()),
        status: Status::Reserved,
        references: vec![Reference::new(ReferenceKind::Rfc, "rfc6335")],
        ..Record::default()
    }
}

fn role_rank(role: Role) -> u8 {
    match role {
        Role::Canonical => 0,
        Role::Alias => 1,
        Role::Historic => 2,
        Role::Unnamed => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse() {
        let tcp = Some(Transport::Tcp);
        assert_eq!(
            "22".parse(),
            Ok(Query::Ports {
                span: PortSpan::single(22),
                transport: None
            })
        );
        assert_eq!(
            "22/tcp".parse(),
            Ok(Query::Ports {
                span: PortSpan::single(22),
                transport: tcp.clone()
            })
        );
        assert_eq!(
            "6000-6010".parse(),
            Ok(Query::Ports {
                span: PortSpan {
                    low: 6000,
                    high: 6010
                },
                transport: None
            })
        );
        assert_eq!(
            "ssh/udp".parse(),
            Ok(Query::Name {
                name: "ssh".into(),
                transport: Some(Transport::Udp)
            })
        );
        assert_eq!(
            "_ssh._tcp".parse(),
            Ok(Query::Name {
                name: "ssh".into(),
                transport: tcp
            })
        );
        assert_eq!(
            "914c/g".parse(),
            Ok(Query::Name {
                name: "914c/g".into(),
                transport: None
            })
        );
        assert_eq!(
            "70000".parse::<Query>(),
            Err(QueryError::Port("70000".into()))
        );
        assert_eq!("9-8".parse::<Query>(), Err(QueryError::Range("9-8".into())));
        assert_eq!(" ".parse::<Query>(), Err(QueryError::Empty));
        assert_eq!(
            "22/foo".parse::<Query>(),
            Err(QueryError::Transport("foo".into()))
        );
        assert_eq!(
            "_ssh._xyz/".parse::<Query>(),
            Err(QueryError::Transport("xyz/".into()))
        );
    }
}
