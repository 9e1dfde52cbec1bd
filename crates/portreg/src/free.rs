//! Which ports a new service can take: free in the registry on every asked transport,
//! and, on this machine, outside the ephemeral range and the kernel's reserved ports, not
//! listening right now, and not blocked by browsers. Every exclusion can be turned off,
//! and [`FreePorts::explain`] names the reasons for one port.

use std::fmt;

use crate::compiled::CompiledRegistry;
use crate::port_range::PortSpan;
use crate::record::Status;
use crate::rules;
use crate::transport::Transport;

/// The ports browsers refuse to connect to: the Fetch standard's "bad ports" (tcp), as
/// its list stands since April 2024 (<https://fetch.spec.whatwg.org/#bad-port>; the last
/// changes added 4190 and 6679 in 2024, 989 and 990 in 2021, 10080 in 2021).
pub const BROWSER_BAD_PORTS: [u16; 83] = [
    0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101,
    102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427,
    465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990,
    993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667,
    6668, 6669, 6679, 6697, 10080,
];

/// Stable picks ([`FreePorts::stable`]) come from here: the User range below 32768, where
/// no common system's ephemeral range starts.
pub const STABLE_SPAN: PortSpan = PortSpan {
    low: 1024,
    high: 32767,
};

/// What this machine (Linux) says about ports; unknown elsewhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    /// `net.ipv4.ip_unprivileged_port_start`: ports below need privileges to bind.
    pub unprivileged_start: Option<u16>,
    /// `net.ipv4.ip_local_port_range`: the ephemeral ports.
    pub ephemeral: Option<(u16, u16)>,
    /// `net.ipv4.ip_local_reserved_ports`: ports the kernel never hands out.
    pub kernel_reserved: Vec<PortSpan>,
    /// Sockets listening (tcp) or bound (udp) right now, from `/proc/net`; read only by
    /// [`Machine::with_listening`], which the free-port finder needs and `info` does not.
    pub listening: Vec<(Transport, u16)>,
}

impl Machine {
    /// Reads `/proc/sys/net/ipv4`.
    pub fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let unprivileged_start = read("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .and_then(|t| t.trim().parse().ok());
        let ephemeral = read("/proc/sys/net/ipv4/ip_local_port_range").and_then(|t| {
            let mut parts = t.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((parts.next()??, parts.next()??))
        });
        let kernel_reserved = read("/proc/sys/net/ipv4/ip_local_reserved_ports")
            .map(|t| {
                t.trim()
                    .split(',')
                    .filter_map(|part| part.trim().parse::<PortSpan>().ok())
                    .collect()
            })
            .unwrap_or_default();
        Machine {
            unprivileged_start,
            ephemeral,
            kernel_reserved,
            listening: Vec::new(),
        }
    }

    /// The transports on which a socket listens on (tcp) or is bound to (udp) `port` now,
    /// as read by [`Machine::with_listening`].
    pub fn listening_on(&self, port: u16) -> Vec<Transport> {
        let mut transports: Vec<Transport> = self
            .listening
            .iter()
            .filter(|(_, p)| *p == port)
            .map(|(t, _)| t.clone())
            .collect();
        transports.dedup();
        transports
    }

    /// Whether `ip_local_reserved_ports` holds `port`.
    pub fn kernel_reserves(&self, port: u16) -> bool {
        self.kernel_reserved.iter().any(|span| span.contains(port))
    }

    /// Adds the sockets listening now, from `/proc/net/{tcp,tcp6,udp,udp6}`.
    pub fn with_listening(mut self) -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let mut listening = Vec::new();
        for (file, transport) in [
            ("/proc/net/tcp", Transport::Tcp),
            ("/proc/net/tcp6", Transport::Tcp),
            ("/proc/net/udp", Transport::Udp),
            ("/proc/net/udp6", Transport::Udp),
        ] {
            if let Some(table) = read(file) {
                listening.extend(
                    listening_ports(&table, transport == Transport::Tcp)
                        .map(|port| (transport.clone(), port)),
                );
            }
        }
        listening.sort_by_key(|(t, p)| (*p, t.as_str().to_owned()));
        listening.dedup();
        self.listening = listening;
        self
    }

    /// Whether binding `port` needs privileges here.
    pub fn privileged(&self, port: u16) -> Option<bool> {
        self.unprivileged_start.map(|start| port < start)
    }

    /// Whether `port` is in this machine's ephemeral range.
    pub fn ephemeral(&self, port: u16) -> Option<bool> {
        self.ephemeral
            .map(|(low, high)| (low..=high).contains(&port))
    }
}

/// The local ports of a `/proc/net/{tcp,udp}` table: listening sockets (state 0A) for
/// tcp, every bound socket for udp.
fn listening_ports(table: &str, tcp: bool) -> impl Iterator<Item = u16> + '_ {
    table.lines().skip(1).filter_map(move |line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1)?;
        let state = fields.nth(1)?;
        if tcp && state != "0A" {
            return None;
        }
        let port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
        (port != 0).then_some(port)
    })
}

/// A popular port seen in the wild, from nmap's services table.
#[derive(Clone, Debug, PartialEq)]
pub struct Popular {
    /// The port.
    pub port: u16,
    /// The transport.
    pub transport: Transport,
    /// nmap's name for it.
    pub name: String,
    /// How often nmap found it open.
    pub frequency: f64,
}

/// Why a port is not offered.
#[derive(Clone, Debug, PartialEq)]
pub enum Exclusion {
    /// A record of the registry holds it on a transport.
    Taken {
        /// The transport it is taken on.
        transport: Transport,
        /// The record's name, if it has one.
        name: Option<String>,
        /// Its status (assigned, reserved, ...).
        status: Status,
    },
    /// RFC 6335 reserves it (0, 1024, 49151).
    ReservedByRfc,
    /// In this machine's ephemeral range.
    Ephemeral {
        /// The range's first port.
        low: u16,
        /// The range's last port.
        high: u16,
    },
    /// In `ip_local_reserved_ports`.
    KernelReserved,
    /// A socket listens on it here now.
    Listening {
        /// On which transport.
        transport: Transport,
    },
    /// Browsers refuse to connect to it (tcp).
    BrowserBlocked,
    /// nmap often finds it open.
    Popular {
        /// nmap's name.
        name: String,
        /// The open frequency.
        frequency: f64,
    },
}

impl Exclusion {
    /// A short token for JSON: `taken`, `reserved-by-rfc`, `ephemeral`, `kernel-reserved`,
    /// `listening`, `browser-blocked`, `popular`.
    pub fn kind(&self) -> &'static str {
        match self {
            Exclusion::Taken { .. } => "taken",
            Exclusion::ReservedByRfc => "reserved-by-rfc",
            Exclusion::Ephemeral { .. } => "ephemeral",
            Exclusion::KernelReserved => "kernel-reserved",
            Exclusion::Listening { .. } => "listening",
            Exclusion::BrowserBlocked => "browser-blocked",
            Exclusion::Popular { .. } => "popular",
        }
    }

    /// Whether the reason depends on this machine's live state.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            Exclusion::Ephemeral { .. } | Exclusion::KernelReserved | Exclusion::Listening { .. }
        )
    }
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::Taken {
                transport,
                name: Some(name),
                ..
            } => write!(f, "taken by {name} on {transport}"),
            Exclusion::Taken {
                transport, status, ..
            } => write!(f, "{} on {transport} in the registry", status.as_str()),
            Exclusion::ReservedByRfc => f.write_str("reserved by RFC 6335"),
            Exclusion::Ephemeral { low, high } => {
                write!(f, "in this machine's ephemeral range {low}-{high}")
            }
            Exclusion::KernelReserved => f.write_str("in this machine's ip_local_reserved_ports"),
            Exclusion::Listening { transport } => {
                write!(f, "in use here by a listening socket ({transport})")
            }
            Exclusion::BrowserBlocked => {
                f.write_str("blocked by browsers (the Fetch standard's bad ports)")
            }
            Exclusion::Popular { name, frequency } => {
                write!(
                    f,
                    "popular in the wild: nmap's {name}, open frequency {frequency}"
                )
            }
        }
    }
}

/// Which exclusions apply; all but `popular` are on by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusions {
    /// This machine's ephemeral range.
    pub ephemeral: bool,
    /// `ip_local_reserved_ports`.
    pub kernel_reserved: bool,
    /// Sockets listening now.
    pub listening: bool,
    /// Browsers' bad ports (tcp only).
    pub browser_blocked: bool,
    /// Ports nmap often finds open (needs [`FreePorts::with_popular`]).
    pub popular: bool,
}

impl Default for Exclusions {
    fn default() -> Self {
        Exclusions {
            ephemeral: true,
            kernel_reserved: true,
            listening: true,
            browser_blocked: true,
            popular: false,
        }
    }
}

impl Exclusions {
    /// Only what the registry and RFC 6335 say.
    pub fn registry_only() -> Self {
        Exclusions {
            ephemeral: false,
            kernel_reserved: false,
            listening: false,
            browser_blocked: false,
            popular: false,
        }
    }
}

/// A stable pick for a service name.
#[derive(Clone, Debug, PartialEq)]
pub struct StablePick {
    /// The port: the same on every machine with the same registry.
    pub port: u16,
    /// Why it cannot be used on this machine now (empty when it can).
    pub busy_here: Vec<Exclusion>,
    /// The next stable choice that is free here, when `port` is busy.
    pub next: Option<u16>,
}

/// The free-port finder over a registry and (optionally) this machine.
pub struct FreePorts<'a> {
    registry: &'a CompiledRegistry,
    transports: Vec<Transport>,
    machine: Option<&'a Machine>,
    exclusions: Exclusions,
    popular: Vec<Popular>,
}

impl<'a> FreePorts<'a> {
    /// A finder for ports free on every one of `transports` (tcp and udp when empty).
    /// Without a `machine`, the live exclusions are not applied.
    pub fn new(
        registry: &'a CompiledRegistry,
        transports: &[Transport],
        machine: Option<&'a Machine>,
        exclusions: Exclusions,
    ) -> Self {
        let transports = if transports.is_empty() {
            vec![Transport::Tcp, Transport::Udp]
        } else {
            transports.to_vec()
        };
        FreePorts {
            registry,
            transports,
            machine,
            exclusions,
            popular: Vec::new(),
        }
    }

    /// Adds nmap's popular ports (those with a non-zero open frequency).
    pub fn with_popular(mut self, popular: Vec<Popular>) -> Self {
        self.popular = popular;
        self
    }

    /// The transports asked for.
    pub fn transports(&self) -> &[Transport] {
        &self.transports
    }

    /// Why `port` is not offered; empty when it is free.
    pub fn explain(&self, port: u16) -> Vec<Exclusion> {
        let mut reasons = self.registry_reasons(port);
        if let Some(machine) = self.machine {
            if let (true, Some((low, high))) = (self.exclusions.ephemeral, machine.ephemeral) {
                if (low..=high).contains(&port) {
                    reasons.push(Exclusion::Ephemeral { low, high });
                }
            }
            if self.exclusions.kernel_reserved
                && machine.kernel_reserved.iter().any(|s| s.contains(port))
            {
                reasons.push(Exclusion::KernelReserved);
            }
            if self.exclusions.listening {
                reasons.extend(
                    machine
                        .listening
                        .iter()
                        .filter(|(t, p)| *p == port && self.transports.contains(t))
                        .map(|(t, _)| Exclusion::Listening {
                            transport: t.clone(),
                        }),
                );
            }
        }
        if self.exclusions.popular {
            reasons.extend(
                self.popular
                    .iter()
                    .filter(|p| p.port == port && self.transports.contains(&p.transport))
                    .map(|p| Exclusion::Popular {
                        name: p.name.clone(),
                        frequency: p.frequency,
                    }),
            );
        }
        reasons
    }

    /// What the registry, RFC 6335 and the browsers say: the reasons that are the same
    /// on every machine.
    fn registry_reasons(&self, port: u16) -> Vec<Exclusion> {
        let mut reasons = Vec::new();
        if rules::is_reserved(port) {
            reasons.push(Exclusion::ReservedByRfc);
        }
        for transport in &self.transports {
            if let Some(record) = self.registry.records_on_port(port).find(|record| {
                record.status() != Status::Unassigned && record.covers_transport(transport)
            }) {
                reasons.push(Exclusion::Taken {
                    transport: transport.clone(),
                    name: record.name().map(str::to_owned),
                    status: record.status(),
                });
            }
        }
        if self.exclusions.browser_blocked
            && self.transports.contains(&Transport::Tcp)
            && BROWSER_BAD_PORTS.binary_search(&port).is_ok()
        {
            reasons.push(Exclusion::BrowserBlocked);
        }
        reasons
    }

    /// The free ports of `span`, as compact spans, at most `count` ports.
    pub fn spans(&self, span: PortSpan, count: Option<usize>) -> Vec<PortSpan> {
        PortSpan::compact(
            (span.low..=span.high).filter(|&port| self.explain(port).is_empty()),
            count,
        )
    }

    /// One port for the service `name`, chosen from [`STABLE_SPAN`] by the name and the
    /// registry alone, so that every machine with the same registry gives the same
    /// answer; with what makes it busy here, and the next stable choice free here.
    pub fn stable(&self, name: &str) -> Option<StablePick> {
        let candidates: Vec<u16> = (STABLE_SPAN.low..=STABLE_SPAN.high)
            .filter(|&port| self.registry_reasons(port).is_empty())
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let key = name.to_ascii_lowercase();
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let start = (hash % candidates.len() as u64) as usize;
        let port = candidates[start];
        let busy_here = self.explain(port);
        let next = if busy_here.is_empty() {
            None
        } else {
            (1..candidates.len())
                .map(|step| candidates[(start + step) % candidates.len()])
                .find(|&p| self.explain(p).is_empty())
        };
        Some(StablePick {
            port,
            busy_here,
            next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ports_are_sorted_and_current() {
        assert!(BROWSER_BAD_PORTS.windows(2).all(|w| w[0] < w[1]));
        // Members of the Fetch standard's list, the latest additions among them.
        for port in [1, 22, 4190, 6679, 10080] {
            assert!(BROWSER_BAD_PORTS.binary_search(&port).is_ok(), "{port}");
        }
        for port in [80, 443, 8080, 6680] {
            assert!(BROWSER_BAD_PORTS.binary_search(&port).is_err(), "{port}");
        }
    }

    #[test]
    fn proc_net_tables_read() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000\n\
   1: 0100007F:A2B4 0100007F:1F90 01 00000000:00000000 00:00000000\n";
        assert_eq!(listening_ports(tcp, true).collect::<Vec<_>>(), vec![8080]);
        assert_eq!(listening_ports(tcp, false).count(), 2);
    }
}
