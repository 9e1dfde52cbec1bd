//! Command-line definitions: one place for every flag, feeding `--help`, the man page
//! and the shell completions. Each command takes only the options it uses (a few small
//! groups below), and they are gathered into [`Common`] for the code that runs it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use portreg::format::Format;
use portreg::{PortSpan, RangeClass, RegistryDate, Transport};

/// What a port or a service name is, from the IANA port-number registry.
#[derive(Debug, Parser)]
#[command(
    name = "portreg",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = LOOKUP_EXAMPLES
)]
pub struct Cli {
    /// What to do; without a command, the arguments are lookups.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Lookups: `portreg 22`, `portreg ssh`.
    #[command(flatten)]
    pub lookup: LookupArgs,
}

impl Cli {
    /// The arguments (the program's name first), read as clap reads them. A plain lookup
    /// (`portreg 22`, `portreg ssh 443/udp`: nothing but queries) skips building clap's
    /// parser, a quarter of such a lookup's instructions; anything else goes to clap.
    pub fn from_args(args: Vec<OsString>) -> Cli {
        match args.split_first() {
            Some((_, queries)) => Cli::plain_lookup(queries),
            None => None,
        }
        .unwrap_or_else(|| Cli::parse_from(args))
    }

    /// The lookup that `queries` (the arguments after the program's name) are when every
    /// one is a query clap would take as it is: UTF-8, not empty, not an option, not a
    /// command's name. `None` for anything else.
    pub fn plain_lookup(queries: &[OsString]) -> Option<Cli> {
        let plain = |text: &&str| {
            !text.is_empty()
                && !text.starts_with('-')
                && *text != "help"
                && !<Command as Subcommand>::has_subcommand(text)
        };
        let queries = queries
            .iter()
            .map(|query| query.to_str().filter(plain).map(str::to_owned))
            .collect::<Option<Vec<String>>>()?;
        if queries.is_empty() {
            return None;
        }
        Some(Cli {
            command: None,
            lookup: LookupArgs {
                queries,
                all: false,
                as_of: AsOfArgs {
                    as_of: None,
                    history: None,
                },
                output: RecordOutput {
                    format: OutputFormat::Table,
                    color: ColorChoice::Auto,
                },
                source: SourceArgs {
                    transport: Vec::new(),
                    registry: RegistryArg { registry: None },
                    layers: LayerArgs {
                        unofficial: false,
                        nmap: None,
                    },
                },
            },
        })
    }
}

/// The options a command runs with, gathered from the groups it takes; those it does not
/// take have their defaults.
#[derive(Clone, Debug, Default)]
pub struct Common {
    /// Output format.
    pub format: OutputFormat,
    /// Only these transports.
    pub transport: Vec<Transport>,
    /// The registry file to use instead of the installed or built-in one.
    pub registry: Option<PathBuf>,
    /// When to colour the table output.
    pub color: ColorChoice,
    /// Also show nmap's de facto names.
    pub unofficial: bool,
    /// nmap's services table.
    pub nmap: Option<PathBuf>,
}

impl Common {
    /// The options of a command that prints records.
    pub fn records(output: &RecordOutput, source: &SourceArgs) -> Common {
        Common {
            format: output.format,
            color: output.color,
            ..Common::from_source(source)
        }
    }

    /// The options of a command that prints a report.
    pub fn report(output: &ReportOutput, source: Option<&SourceArgs>) -> Common {
        Common {
            format: output.format.into(),
            color: output.color,
            ..source.map(Common::from_source).unwrap_or_default()
        }
    }

    fn from_source(source: &SourceArgs) -> Common {
        Common {
            transport: source.transport.clone(),
            registry: source.registry.registry.clone(),
            unofficial: source.layers.unofficial,
            nmap: source.layers.nmap.clone(),
            ..Common::default()
        }
    }

    /// Only a registry file.
    pub fn with_registry(output: &ReportOutput, registry: &RegistryArg) -> Common {
        Common {
            registry: registry.registry.clone(),
            ..Common::report(output, None)
        }
    }
}

/// `--registry FILE`.
#[derive(Debug, Args)]
pub struct RegistryArg {
    /// Use this registry file (any format portreg reads, or a compiled registry)
    /// instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
}

/// The de facto layer: `--unofficial`, `--nmap FILE`.
#[derive(Debug, Args)]
pub struct LayerArgs {
    /// Also show de facto names from nmap's services table (labelled `nmap`).
    #[arg(long)]
    pub unofficial: bool,
    /// nmap's services table [default: /usr/share/nmap/nmap-services].
    #[arg(long, value_name = "FILE")]
    pub nmap: Option<PathBuf>,
}

/// Which registry, layers and transports a question is asked of.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Only these transports (comma-separated: tcp,udp,sctp,dccp).
    #[arg(long, short = 't', value_delimiter = ',', value_parser = parse_transport)]
    pub transport: Vec<Transport>,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryArg,
    /// The de facto layer.
    #[command(flatten)]
    pub layers: LayerArgs,
}

/// Output of records: every format.
#[derive(Debug, Args)]
pub struct RecordOutput {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// When to colour the table output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Output of a report (not records): a table or JSON.
#[derive(Debug, Args)]
pub struct ReportOutput {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// When to colour the table output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// How a report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned text for people.
    Table,
    /// JSON.
    Json,
    /// JSON, one value a line.
    Jsonl,
}

impl From<ReportFormat> for OutputFormat {
    fn from(format: ReportFormat) -> Self {
        match format {
            ReportFormat::Table => OutputFormat::Table,
            ReportFormat::Json => OutputFormat::Json,
            ReportFormat::Jsonl => OutputFormat::Jsonl,
        }
    }
}

/// How records are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table for people.
    #[default]
    Table,
    /// A JSON array of records (portreg's stable record).
    Json,
    /// One JSON record a line.
    Jsonl,
    /// IANA's CSV.
    Csv,
    /// services(5) lines.
    Services,
}

/// When to use colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The commands.
#[derive(Debug)]
pub enum Command {
    /// Look ports, ranges and names up (the default command).
    Lookup(LookupArgs),
    /// Search names and descriptions.
    Search(SearchArgs),
    /// Everything about a port or a name.
    Info(InfoArgs),
    /// Free ports.
    Free(FreeArgs),
    /// Differences between two registry files.
    Diff(DiffArgs),
    /// A service name against RFC 6335 and the registry.
    CheckName(CheckNameArgs),
    /// Local names that collide with the registry.
    CheckLocal(AboutArgs),
    /// Install a newer registry.
    Update(UpdateArgs),
    /// The assignment authority.
    Authority(AuthorityArgs),
    /// The HTTP API and web page.
    Serve(ServeArgs),
    /// The name service.
    Nss(NssArgs),
    /// Log enrichment.
    Enrich(EnrichArgs),
    /// Version and registry in use.
    About(AboutArgs),
    /// The registry's history.
    History(HistoryArgs),
    /// Convert a registry file.
    Convert(ConvertArgs),
    /// Shell completions.
    Completions(CompletionsArgs),
    /// Man pages.
    Man(ManArgs),
}

/// A command's name, help and examples, with its arguments added only when it is used
/// (`defer`): a lookup does not build the arguments of thirteen other commands.
struct Spec {
    name: &'static str,
    about: &'static str,
    arguments: fn(clap::Command) -> clap::Command,
}

/// A command's [`Spec`]: its arguments, added when it is used, keep its own help text
/// (the argument structs' doc comments would otherwise replace it).
macro_rules! spec {
    ($name:literal, $args:ty, $about:literal, $examples:expr) => {
        Spec {
            name: $name,
            about: $about,
            // The examples too: copying every command's text would cost each lookup.
            arguments: |command| {
                <$args>::augment_args(command)
                    .about($about)
                    .after_help($examples)
            },
        }
    };
}

const COMMANDS: [Spec; 17] = [
    spec!("lookup", LookupArgs, "Look ports, ranges and names up (the default command)", LOOKUP_EXAMPLES),
    spec!("search", SearchArgs, "Search names and descriptions for text, best matches first", SEARCH_EXAMPLES),
    spec!("info", InfoArgs, "Everything about a port or a name: every field, people, links, range, this machine", INFO_EXAMPLES),
    spec!("free", FreeArgs, "Ports free on every given transport", FREE_EXAMPLES),
    spec!("diff", DiffArgs, "Records added, removed and changed between two registry files", DIFF_EXAMPLES),
    spec!("check-name", CheckNameArgs, "Check a service name against RFC 6335 and the registry", CHECK_NAME_EXAMPLES),
    spec!("check-local", AboutArgs, "List where local names (local.d) collide with the registry's assignments", CHECK_LOCAL_EXAMPLES),
    spec!("update", UpdateArgs, "Install the newest registry from IANA (or a URL or file), or go back to the previous one", UPDATE_EXAMPLES),
    spec!("authority", AuthorityArgs, "Run a registry as an assignment authority: requests, review, history, publish", AUTHORITY_EXAMPLES),
    spec!("serve", ServeArgs, "Serve the HTTP API and the web page", SERVE_EXAMPLES),
    spec!("enrich", EnrichArgs, "Add service names (and more) to every line of a flow log: Zeek, CSV, TSV, JSON lines", ENRICH_EXAMPLES),
    spec!("nss", NssArgs, "Install, remove or show the name service (`services: portreg` in nsswitch.conf)", NSS_EXAMPLES),
    spec!("history", HistoryArgs, "The registry's history: when each name and port appeared, what changed, and when", HISTORY_EXAMPLES),
    spec!("about", AboutArgs, "portreg's version and the registry in use", ABOUT_EXAMPLES),
    spec!("convert", ConvertArgs, "Convert a registry file from one format to another", CONVERT_EXAMPLES),
    spec!("completions", CompletionsArgs, "Print shell completions", "Example:\n  portreg completions bash > /etc/bash_completion.d/portreg"),
    spec!("man", ManArgs, "Print the man page (roff), or write a page for every command", "Examples:\n  portreg man > portreg.1 && man ./portreg.1\n  portreg man --dir /usr/local/share/man/man1"),
];

impl Subcommand for Command {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        COMMANDS.iter().fold(command, |command, spec| {
            command.subcommand(
                clap::Command::new(spec.name)
                    .about(spec.about)
                    .defer(spec.arguments),
            )
        })
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        COMMANDS.iter().any(|spec| spec.name == name)
    }
}

impl clap::FromArgMatches for Command {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let Some((name, sub)) = matches.subcommand() else {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::MissingSubcommand,
                "a command is needed\n",
            ));
        };
        Ok(match name {
            "lookup" => Command::Lookup(LookupArgs::from_arg_matches(sub)?),
            "search" => Command::Search(SearchArgs::from_arg_matches(sub)?),
            "info" => Command::Info(InfoArgs::from_arg_matches(sub)?),
            "free" => Command::Free(FreeArgs::from_arg_matches(sub)?),
            "diff" => Command::Diff(DiffArgs::from_arg_matches(sub)?),
            "check-name" => Command::CheckName(CheckNameArgs::from_arg_matches(sub)?),
            "check-local" => Command::CheckLocal(AboutArgs::from_arg_matches(sub)?),
            "update" => Command::Update(UpdateArgs::from_arg_matches(sub)?),
            "authority" => Command::Authority(AuthorityArgs::from_arg_matches(sub)?),
            "serve" => Command::Serve(ServeArgs::from_arg_matches(sub)?),
            "nss" => Command::Nss(NssArgs::from_arg_matches(sub)?),
            "enrich" => Command::Enrich(EnrichArgs::from_arg_matches(sub)?),
            "about" => Command::About(AboutArgs::from_arg_matches(sub)?),
            "history" => Command::History(HistoryArgs::from_arg_matches(sub)?),
            "convert" => Command::Convert(ConvertArgs::from_arg_matches(sub)?),
            "completions" => Command::Completions(CompletionsArgs::from_arg_matches(sub)?),
            "man" => Command::Man(ManArgs::from_arg_matches(sub)?),
            other => {
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::InvalidSubcommand,
                    format!("unknown command {other:?}\n"),
                ))
            }
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

const LOOKUP_EXAMPLES: &str = "\
Examples:
  portreg 22                 what is port 22?
  portreg 8443/udp           on one transport
  portreg 6000-6010 --all    a range, with its Unassigned and Reserved rows
  portreg ldaps              what port does ldaps use?
  portreg _ssh._tcp          the DNS-SD form
  portreg 22 80 443 -f json  several at once, as JSON
  portreg 465 --as-of 2016-06-01   as the registry was published then

Exit codes: 0 found, 1 nothing found, 2 usage or input error.";

const SEARCH_EXAMPLES: &str = "\
Examples:
  portreg search sql
  portreg search remote desktop --limit 5
  portreg search kerberos -t udp -f json";

const INFO_EXAMPLES: &str = "\
Examples:
  portreg info 22
  portreg info https
  portreg info x11 --registry service-names-port-numbers.xml";

const FREE_EXAMPLES: &str = "\
Left out by default: ports with a record on an asked transport (other than Unassigned),
RFC 6335's reserved ports, this machine's ephemeral range and ip_local_reserved_ports,
ports listening here now (/proc/net), and, for tcp, the ports browsers block.

Examples:
  portreg free                              free User ports on tcp and udp
  portreg free -t tcp --range 8000-8999     in a range of your own
  portreg free --count 5                    the first five
  portreg free --explain 8080               why 8080 is not offered
  portreg free --for billing-api            one stable port for a service name
  portreg free --avoid-popular -f json      also leave out ports nmap often finds open";

const DIFF_EXAMPLES: &str = "\
Examples:
  portreg diff old.xml new.xml
  portreg diff /etc/services service-names-port-numbers.csv -f json

Exit codes, as diff(1): 0 the same records, 1 different, 2 trouble.";

const HISTORY_EXAMPLES: &str = "\
Examples:
  portreg history 465              every record port 465 has had, oldest first
  portreg history nicname -f json  a name's timeline, each change with old and new values
  portreg 465 --as-of 2016-01-01   the registry as published then
  portreg history build snapshots/ -o my.history   a history of your own snapshots

Built in: 347 snapshots, 2001-09-17 to 2026-08-17 (`portreg about` lists them).
A change is dated by the two snapshots around it: published after one, by the next.

Exit codes: 0 found, 1 nothing found, 2 usage error.";

const CHECK_NAME_EXAMPLES: &str = "\
Examples:
  portreg check-name my-service
  portreg check-name whois++ -f json

Exit codes: 0 valid and free, 1 invalid or taken, 2 usage error.";

const CHECK_LOCAL_EXAMPLES: &str = "\
Local names are services(5) files (*.services) and JSON record files (*.json) in
$PORTREG_CONFIG_DIR/local.d when that is set, else in both $XDG_CONFIG_HOME/portreg/local.d
(~/.config/portreg/local.d) and /etc/portreg/local.d. Every command shows them, labelled
`local`, beside the registry's records.

Examples:
  printf 'billing-api\t40404/tcp\n' > ~/.config/portreg/local.d/team.services
  portreg check-local
  portreg check-local -f json

Exit codes: 0 no collision, 1 collisions listed, 2 error.";

const UPDATE_EXAMPLES: &str = "\
The registry is kept in $PORTREG_DATA_DIR, else $XDG_DATA_HOME/portreg, else
~/.local/share/portreg, with the one it replaced.

Examples:
  portreg update                   install IANA's current registry
  portreg update --check           only say whether a newer one is available
  portreg update --file service-names-port-numbers.xml
  portreg update --rollback        go back to the registry in use before
  sudo portreg update --system     the machine's registry, for the name service
                                   (/var/lib/portreg, or $PORTREG_SYSTEM_DATA_DIR)

Exit codes: 0 installed (or, with --check, a newer one is available), 1 already current,
2 refused or failed (the registry in use is left as it was).";

const ENRICH_EXAMPLES: &str = "\
The log's format is recognised from its first lines: Zeek's #separator header, a JSON
object, or a header line of tab- or comma-separated names. The port field defaults to
id.resp_p (Zeek), else the first of id.resp_p, dst_port, dport, dest_port,
destination.port; the transport to proto (Zeek), else proto, transport,
network.transport (tcp, udp, sctp, dccp in any case, or 6, 17, 132, 33). The record
that answers is the port's service on that transport, else the row that covers it
(Unassigned, Reserved); a port with none gets the format's empty value (`-` in Zeek, an
empty field, `null`), never a guess. Lines without a port number pass through unchanged
and are counted (--strict stops at the first, with FILE:LINE).

Examples:
  portreg enrich conn.log > conn.enriched.log      Zeek: zeek-cut still reads it
  zeek-cut id.resp_p proto port_name < conn.enriched.log
  portreg enrich flows.csv --add name,description,status -o out.csv
  portreg enrich --log-format jsonl --port-field destination.port --log-transport tcp < ecs.json

Exit codes: 0 done, 2 error (with --strict, a line without a port number).";

const NSS_EXAMPLES: &str = "\
With `services: portreg` in /etc/nsswitch.conf, every program's getservbyname and
getservbyport (getent services, Python's socket module, getaddrinfo) answer from the
whole registry: the machine's (`portreg update --system`) or the built-in one, with the
local names of /etc/portreg/local.d.

The library, libnss_portreg.so, is built by `cargo build --release` in portreg's source
tree (target/release/libnss_portreg.so, found there beside portreg); `cargo install`
installs none.

Examples:
  sudo portreg nss install --dry-run   show what would change
  sudo portreg nss install             library in place, portreg first on the services line
  portreg nss status                   what is installed and what it answers from
  sudo portreg nss uninstall           services line and library as before

Exit codes: 0 done (status: the module is in use), 1 status: not in use, 2 error.";

const AUTHORITY_EXAMPLES: &str = "\
The store is a SQLite file: --db PATH, else authority.sqlite in portreg's data directory.

Examples:
  portreg authority init --from service-names-port-numbers.xml
  portreg authority request --name billing-api -t tcp --port 40404 --description 'Billing API' \\
      --assignee 'Billing team' --contact 'ops@example.org'
  portreg authority request --name metrics-push -t tcp,udp --any-port --range user ...
  portreg authority list
  portreg authority user add ada --role expert --email ada@example.org    prints ada's API token
  portreg authority review 1 --approve --comment 'fine'
  portreg authority verify                   exit 1 names the first row changed, removed or inserted
  portreg authority deassign billing-api --reason 'service retired'
  portreg authority history billing-api
  portreg authority publish --to iana-xml -o registry.xml

Exit codes: 0 done, 1 refused (a rule, a conflict, nothing found), 2 usage or store error.";

const SERVE_EXAMPLES: &str = "\
Examples:
  portreg serve                              http://127.0.0.1:7070/
  portreg serve --listen 0.0.0.0:8080 --registry service-names-port-numbers.xml
  RUST_LOG=warn portreg serve                 no access log
  portreg serve --authority authority.sqlite  requests and review over HTTP (tokens from
                                             `portreg authority user add`)
  portreg serve --follow http://primary:7070/v1/registry.bin --interval 30
                                             a read-only replica of another server
  systemd-socket-activate -l 127.0.0.1:80 portreg serve
                                             serves the socket it is given (LISTEN_FDS)

API: /v1/ports/{port|lo-hi}, /v1/services/{name}, /v1/search?q=, /v1/free, /v1/check-name/{name},
/v1/info/{query}, /v1/registry, /healthz; described at /openapi.json. Serves a registry
installed by `portreg update` (or a --registry file rewritten) within seconds, and on SIGHUP;
requests in flight finish on the one they started with. Stops on Ctrl-C or SIGTERM after the
requests in flight.";

const ABOUT_EXAMPLES: &str = "\
Examples:
  portreg about
  portreg about -f json --registry service-names-port-numbers.xml";

const CONVERT_EXAMPLES: &str = "\
Formats: iana-xml, iana-csv, iana-txt, legacy, services, wireshark, nmap, json, jsonl
Exports (--to only), for the engines that join flows against the registry:
  parquet   one row per record, every field typed (DuckDB, Spark, ClickHouse)
  zeek      a Zeek input-framework table keyed by port and transport (22/tcp)
  logstash  a Logstash translate dictionary: \"22/tcp\": \"ssh\"

Examples:
  portreg convert service-names-port-numbers.xml --to iana-csv -o ports.csv
  portreg convert service-names-port-numbers.xml --to parquet -o ports.parquet
  portreg convert port-numbers --from legacy --to json
  portreg convert /etc/services --to jsonl
  cat ports.csv | portreg convert - --to services --strict";

/// `portreg [lookup] QUERY...`.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// Ports (`22`, `22/tcp`), ranges (`6000-6010`) or names (`ssh`, `ssh/udp`, `_ssh._tcp`).
    #[arg(value_name = "QUERY")]
    pub queries: Vec<String>,
    /// Also show the Unassigned and Reserved rows of a range.
    #[arg(long)]
    pub all: bool,
    /// The registry as published on DATE (YYYY-MM-DD): the latest snapshot of the
    /// history on or before it.
    #[command(flatten)]
    pub as_of: AsOfArgs,
    /// Output.
    #[command(flatten)]
    pub output: RecordOutput,
    /// Registry, layers, transports.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `--as-of DATE`, `--history FILE`.
#[derive(Debug, Args)]
pub struct AsOfArgs {
    /// The registry as published on DATE (YYYY-MM-DD or YYYY-MM): the latest snapshot of
    /// the history on or before it, named in the output.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<RegistryDate>,
    /// Use this history (`portreg history build` writes one) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

/// `portreg history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Ports (`465`), ranges (`6000-6063`) or names (`nicname`); or `build` and the
    /// snapshot files or folders to build a history of.
    #[arg(required = true, value_name = "QUERY")]
    pub queries: Vec<String>,
    /// With `build`: the history file to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Use this history instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Only these transports (comma-separated: tcp,udp,sctp,dccp).
    #[arg(long, short = 't', value_delimiter = ',', value_parser = parse_transport)]
    pub transport: Vec<Transport>,
    /// Output.
    #[command(flatten)]
    pub report: ReportOutput,
}

/// `portreg about`, `portreg check-local`: a report on the registry in use.
#[derive(Debug, Args)]
pub struct AboutArgs {
    /// Output.
    #[command(flatten)]
    pub output: ReportOutput,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryArg,
}

/// `portreg search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The text to find, literally, in any case; several words are one text.
    #[arg(required = true, value_name = "TEXT")]
    pub text: Vec<String>,
    /// At most this many results.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    /// `--as-of DATE`.
    #[command(flatten)]
    pub as_of: AsOfArgs,
    /// Output.
    #[command(flatten)]
    pub output: RecordOutput,
    /// Registry, layers, transports.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `portreg info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A port, a range or a name.
    #[arg(value_name = "PORT|NAME")]
    pub subject: String,
    /// `--as-of DATE`.
    #[command(flatten)]
    pub as_of: AsOfArgs,
    /// Output.
    #[command(flatten)]
    pub output: ReportOutput,
    /// Registry, layers, transports.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `portreg free`.
#[derive(Debug, Args)]
pub struct FreeArgs {
    /// The ports to look in: user, system, dynamic, or LO-HI.
    #[arg(long, default_value = "user", value_name = "RANGE", value_parser = parse_range)]
    pub range: PortSpan,
    /// Only the first N free ports.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// Say why PORT is or is not offered.
    #[arg(long, value_name = "PORT", conflicts_with = "stable_for")]
    pub explain: Option<u16>,
    /// Pick one stable port for the service NAME (the same on every machine with the same
    /// registry) and print it alone.
    #[arg(long = "for", value_name = "NAME")]
    pub stable_for: Option<String>,
    /// Offer ports in this machine's ephemeral range (net.ipv4.ip_local_port_range).
    #[arg(long)]
    pub include_ephemeral: bool,
    /// Offer ports in net.ipv4.ip_local_reserved_ports.
    #[arg(long)]
    pub include_kernel_reserved: bool,
    /// Offer ports that something listens on here now.
    #[arg(long)]
    pub include_listening: bool,
    /// Offer the ports browsers block (tcp).
    #[arg(long)]
    pub include_browser_blocked: bool,
    /// Leave out ports nmap's services table lists with a non-zero open frequency
    /// (--nmap FILE, else /usr/share/nmap/nmap-services).
    #[arg(long)]
    pub avoid_popular: bool,
    /// Output.
    #[command(flatten)]
    pub output: ReportOutput,
    /// Registry, layers, transports.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `portreg diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old registry file (any format), then the new one; `--from` and `--to` take
    /// their places with the registry as published on a date.
    #[arg(value_name = "FILE", num_args = 0..=2)]
    pub files: Vec<PathBuf>,
    /// The old registry as published on DATE (the history's snapshot then).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<RegistryDate>,
    /// The new registry as published on DATE.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: Option<RegistryDate>,
    /// With `--from` or `--to`: this history instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Output.
    #[command(flatten)]
    pub output: ReportOutput,
}

/// `portreg check-name`.
#[derive(Debug, Args)]
pub struct CheckNameArgs {
    /// The service name to check.
    pub name: String,
    /// Output.
    #[command(flatten)]
    pub output: ReportOutput,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryArg,
}

/// IANA's registry in its master form.
pub const IANA_URL: &str =
    "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.xml";

/// `portreg update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Where to download the registry from.
    #[arg(long, value_name = "URL", default_value = IANA_URL, conflicts_with_all = ["file", "rollback"])]
    pub url: String,
    /// Install a registry file (any format portreg reads) instead of downloading.
    #[arg(long, value_name = "PATH", conflicts_with = "rollback")]
    pub file: Option<PathBuf>,
    /// Only say whether a newer registry is available; install nothing.
    #[arg(long, conflicts_with = "rollback")]
    pub check: bool,
    /// Install even a registry older than the one in use.
    #[arg(long)]
    pub allow_older: bool,
    /// Put the previous registry back in use.
    #[arg(long)]
    pub rollback: bool,
    /// Give up on a download after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// List every record added, removed and changed.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Install for the whole machine, in /var/lib/portreg (or $PORTREG_SYSTEM_DATA_DIR),
    /// readable by every user: the registry the name service (`portreg nss`) answers from.
    #[arg(long)]
    pub system: bool,
}

/// `portreg enrich`.
#[derive(Debug, Args)]
pub struct EnrichArgs {
    /// The log to read; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The log's format; recognised from its first lines when not given.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<crate::enrich::LogFormat>,
    /// The field (or JSON key, dotted for nested objects) holding the port.
    #[arg(long, value_name = "FIELD")]
    pub port_field: Option<String>,
    /// The field holding the transport.
    #[arg(long, value_name = "FIELD", conflicts_with = "log_transport")]
    pub transport_field: Option<String>,
    /// One transport for every line, when the log has no transport field.
    #[arg(long, value_name = "TRANSPORT")]
    pub log_transport: Option<String>,
    /// The columns to add (comma-separated), as port_name, port_description, ...
    #[arg(long, value_delimiter = ',', default_value = "name", value_parser = parse_column())]
    pub add: Vec<crate::enrich::Column>,
    /// Where to write; standard output when not given.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Stop at the first line without a port number (exit code 2, with FILE:LINE).
    #[arg(long)]
    pub strict: bool,
    /// Worker threads [default: the machine's cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
    /// The registry.
    /// Answer every line as the registry was published on DATE (the history's snapshot
    /// then).
    #[arg(long, value_name = "DATE", value_parser = parse_date, conflicts_with = "as_of_field")]
    pub as_of: Option<RegistryDate>,
    /// Answer each line as the registry was published at the time its FIELD holds (epoch
    /// seconds, as Zeek's `ts`, or an ISO date and time): for old captures.
    #[arg(long, value_name = "FIELD")]
    pub as_of_field: Option<String>,
    /// With `--as-of` or `--as-of-field`: this history instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArg,
    /// The de facto layer.
    #[command(flatten)]
    pub layers: LayerArgs,
}

/// `portreg nss`.
#[derive(Debug, Args)]
pub struct NssArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: NssAction,
}

/// `portreg nss` actions.
#[derive(Debug, Subcommand)]
pub enum NssAction {
    /// Put the library where glibc finds it and `portreg` on the services line.
    Install(NssInstallArgs),
    /// Take `portreg` off the services line and remove the library.
    Uninstall(NssPlaces),
    /// Say what is installed, what is in use, and what it answers from.
    Status(NssStatusArgs),
}

/// Where the name service is installed.
#[derive(Debug, Args)]
pub struct NssPlaces {
    /// The folder of the machine's NSS modules; default the one holding libc.so.6.
    #[arg(long, value_name = "DIR")]
    pub lib_dir: Option<PathBuf>,
    /// The name service switch configuration.
    #[arg(long, value_name = "PATH", default_value = "/etc/nsswitch.conf")]
    pub nsswitch: PathBuf,
    /// Show what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `portreg nss install`.
#[derive(Debug, Args)]
pub struct NssInstallArgs {
    /// The library to install; default libnss_portreg.so beside this program.
    #[arg(long, value_name = "PATH")]
    pub library: Option<PathBuf>,
    /// Put portreg after the other sources (`files portreg`): names in /etc/services win,
    /// and every lookup of a name it lacks reads the whole file first.
    #[arg(long)]
    pub last: bool,
    /// Where.
    #[command(flatten)]
    pub places: NssPlaces,
}

/// `portreg nss status`.
#[derive(Debug, Args)]
pub struct NssStatusArgs {
    /// The folder of the machine's NSS modules; default the one holding libc.so.6.
    #[arg(long, value_name = "DIR")]
    pub lib_dir: Option<PathBuf>,
    /// The name service switch configuration.
    #[arg(long, value_name = "PATH", default_value = "/etc/nsswitch.conf")]
    pub nsswitch: PathBuf,
    /// Output.
    #[command(flatten)]
    pub output: ReportOutput,
}

/// `portreg authority`.
#[derive(Debug, Args)]
pub struct AuthorityArgs {
    /// The store (a SQLite file); default authority.sqlite in portreg's data directory.
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Output format (`list`, `show`, `history`, and the records of `review`).
    #[arg(long, short = 'f', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// When to colour the table output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// The Ed25519 key the log's heads are signed with (`init` makes it if absent, and
    /// uses it if present: a new store can take over an old store's key); default
    /// STORE.key beside the store, readable by its owner only.
    #[arg(long, global = true, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Addresses a provider delivers alike, for the self-review rule (off unless given;
    /// repeat for more): `dots@DOMAIN` (dots in a local part at DOMAIN do not count, as
    /// Gmail's `gmail.com`), `tag=C` (C starts a tag, as `+` always does: `tag=-`).
    #[arg(long = "same-address", global = true, value_name = "RULE")]
    pub address_rules: Vec<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: AuthorityCommand,
}

/// The authority's commands.
#[derive(Debug, Subcommand)]
pub enum AuthorityCommand {
    /// Create the store, optionally loaded with a registry file of any format.
    Init {
        /// The registry to start from (IANA XML with its people, the legacy list, ...).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// File a request, with the fields of IANA's application form; prints its id.
    Request(RequestArgs),
    /// Approve, deny or send back for changes a pending request.
    Review {
        /// The request's id.
        id: i64,
        /// Create the assignment.
        #[arg(long, group = "decision")]
        approve: bool,
        /// Turn it down.
        #[arg(long, alias = "reject", group = "decision")]
        deny: bool,
        /// Send it back to its requester for changes.
        #[arg(long, group = "decision")]
        changes: bool,
        /// Why, for the requester and the history.
        #[arg(long, alias = "reason")]
        comment: Option<String>,
        /// The version of the request decided on (`show ID` gives it); without it, the
        /// request as first filed. A request amended since is a conflict (exit 1).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
        version: Option<i64>,
    },
    /// Withdraw an open request.
    Withdraw {
        /// The request's id.
        id: i64,
    },
    /// Identities and their API tokens (for `portreg serve --authority`).
    User {
        /// What to do.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check the log: walk its chain, replay every change it holds and compare the result
    /// with every table. Exit 0 when whole, 1 naming the first entry changed, removed or
    /// inserted, or the first row edited outside the log.
    Verify {
        /// A head published before: `ID:HASH` (from a published registry), the log must
        /// still hold that entry unchanged; or a file holding a checkpoint (a signed note
        /// a replica or a witness kept), the log's root at its size must be its root.
        #[arg(long, value_name = "ID:HASH|FILE")]
        head: Option<String>,
        /// A server's checkpoint: the store's log and the server's must be one the
        /// prefix of the other (checked with the server's consistency proof).
        #[arg(long, value_name = "URL")]
        against: Option<String>,
        /// The log's key, kept apart from the store (its verifier key or public key's
        /// hex, or a file of it): the store must name it, and its entries be signed by
        /// it. Without it, the key of the signing key beside the store (`DB.key`), else
        /// the one the store names.
        #[arg(long, value_name = "KEY|FILE")]
        key: Option<String>,
    },
    /// Print the public key the log's heads are signed with (hex), for followers'
    /// --authority-key.
    Key,
    /// De-assign a service (or one record, #ID): its ports become Reserved.
    Deassign {
        /// The service name, or #ID of a record.
        subject: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke a service: de-assign it, with a reason.
    Revoke {
        /// The service name, or #ID of a record.
        subject: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Transfer a service to another person.
    Transfer {
        /// The service name.
        name: String,
        /// The new assignee and contact.
        #[arg(long, value_name = "PERSON")]
        to: String,
    },
    /// Who did what, when and why.
    History {
        /// Only what concerns this name or port.
        subject: Option<String>,
        /// Only since this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        since: Option<RegistryDate>,
    },
    /// Write the registry as it stands.
    Publish {
        /// The format.
        #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
        to: Format,
        /// Where to write; standard output when not given.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// The pending requests (or all of them, or the records).
    List {
        /// Every request, decided ones too.
        #[arg(long, conflicts_with = "records")]
        all: bool,
        /// The records instead.
        #[arg(long)]
        records: bool,
    },
    /// One request (by id) or the records of a name.
    Show {
        /// A request id or a service name.
        subject: String,
    },
    /// Copy the store with SQLite's online backup.
    Backup {
        /// The new file.
        file: PathBuf,
    },
}

/// `portreg authority user`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Make an identity; prints its API token, once, alone on the last line.
    Add {
        /// Its name: letters, digits, '-', '_', '.'.
        name: String,
        /// What it may do.
        #[arg(long, value_enum)]
        role: IdentityRole,
        /// Its address: a request naming it as assignee or contact is its own.
        #[arg(long, value_name = "ADDRESS")]
        email: Option<String>,
        /// When the token stops working (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC).
        #[arg(long, value_name = "WHEN", conflicts_with = "ttl")]
        expires: Option<String>,
        /// How long the token works: 90d, 12h, 30m or seconds.
        #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
        ttl: Option<u64>,
    },
    /// The identities (never their tokens).
    List,
    /// Revoke an identity: its token stops working at once.
    Revoke {
        /// Its name.
        name: String,
    },
    /// Give an identity another role.
    Role {
        /// Its name.
        name: String,
        /// The new role.
        #[arg(value_enum)]
        role: IdentityRole,
    },
}

/// What an identity may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IdentityRole {
    /// Submit requests, see and withdraw their own, amend them when asked to.
    Requester,
    /// See the queue; approve, deny or ask for changes.
    Expert,
    /// Identities, de-assignment, revocation, transfer, reuse, publication.
    Admin,
}

impl IdentityRole {
    /// `requester`, `expert`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityRole::Requester => "requester",
            IdentityRole::Expert => "expert",
            IdentityRole::Admin => "admin",
        }
    }
}

fn parse_port_span(text: &str) -> Result<PortSpan, String> {
    text.parse::<PortSpan>()
        .map_err(|e| format!("{text:?}: expected {e}"))
}

/// `90d`, `12h`, `30m`, `45s` or plain seconds, in seconds.
fn parse_ttl(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.char_indices().last() {
        Some((index, unit)) if unit.is_ascii_alphabetic() => (&text[..index], unit),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{text:?}: expected a number with s, m, h or d")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&seconds| seconds > 0)
        .ok_or_else(|| format!("{text:?}: expected a positive number with s, m, h or d"))
}

/// `portreg authority request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The service name (RFC 6335).
    #[arg(long)]
    pub name: String,
    /// The transports (comma-separated: tcp,udp,sctp,dccp).
    #[arg(long, short = 't', value_delimiter = ',', value_parser = parse_transport, required = true)]
    pub transport: Vec<Transport>,
    /// The port wanted, or a range (`40403-40405`).
    #[arg(long, conflicts_with = "any_port", value_name = "PORT|LO-HI", value_parser = parse_port_span)]
    pub port: Option<PortSpan>,
    /// Let the authority pick a free port in --range.
    #[arg(long)]
    pub any_port: bool,
    /// Where --any-port picks: user (default), system, or LO-HI.
    #[arg(long, requires = "any_port", value_parser = parse_range)]
    pub range: Option<PortSpan>,
    /// What the service does.
    #[arg(long)]
    pub description: String,
    /// Who the assignment is to.
    #[arg(long, value_name = "PERSON")]
    pub assignee: String,
    /// Who to contact about it.
    #[arg(long, value_name = "PERSON")]
    pub contact: String,
    /// A reference: RFC6335, a URI, a draft.
    #[arg(long)]
    pub reference: Option<String>,
    /// DNS-SD TXT keys.
    #[arg(long, value_name = "TEXT")]
    pub txt_keys: Option<String>,
    /// For a System port: the procedure it went through.
    #[arg(long, value_enum)]
    pub procedure: Option<Procedure>,
    /// Take a Reserved port.
    #[arg(long)]
    pub reuse: bool,
}

/// `portreg serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address and port to listen on (a socket passed by systemd, `LISTEN_FDS`, is
    /// served instead).
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "ADDRESS:PORT")]
    pub listen: std::net::SocketAddr,
    /// Access log lines as JSON.
    #[arg(long)]
    pub log_json: bool,
    /// Run the assignment authority of this store over HTTP too (requests, review,
    /// records, identities, history); the registry served is the store's.
    #[arg(long, value_name = "DB")]
    pub authority: Option<PathBuf>,
    /// Requests an identity may make a second (on average; 4 times as many at once).
    #[arg(long, value_name = "N", default_value_t = 20.0, requires = "authority")]
    pub rate_limit: f64,
    /// Be a read-only replica: serve the registry fetched from URL (another portreg
    /// server's /v1/registry.bin, or any registry file's URL, such as IANA's XML).
    #[arg(long, value_name = "URL")]
    pub follow: Option<String>,
    /// Seconds between fetches of --follow's URL.
    #[arg(long, value_name = "SECS", default_value_t = 60, requires = "follow", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub interval: u64,
    /// The followed authority's key (a file `portreg authority key` wrote: its verifier
    /// key, `ORIGIN+KEYID+BASE64`, or its public key's hex; or the text itself): every
    /// checkpoint must be signed by it. Without it, the key the source names on the first
    /// fetch is pinned (and said in the log).
    #[arg(long, value_name = "FILE", requires = "follow")]
    pub authority_key: Option<PathBuf>,
    /// Witnesses, by verifier key (`NAME+ID+BASE64`, a cosigner's, type 0x04): on a
    /// replica, the witnesses whose cosignatures every checkpoint must carry; on an
    /// authority, `VKEY=URL`: the witnesses it asks (`URL/add-checkpoint`) and whose
    /// cosignatures it publishes with its checkpoint. Repeat for more.
    #[arg(long = "witness", value_name = "VKEY[=URL]")]
    pub witnesses: Vec<String>,
    /// Be a witness of the followed log (`c2sp.org/tlog-witness`: `POST /add-checkpoint`,
    /// cosignatures by this key, made there if absent; `GET /v1/witness` names it).
    #[arg(long, value_name = "FILE", requires = "follow")]
    pub cosign_key: Option<PathBuf>,
    /// The oldest a followed authority's checkpoint may be, in seconds: an older one
    /// (a source frozen, or a replay of an old answer) makes /healthz 503, `stale`.
    #[arg(long, value_name = "SECS", requires = "follow", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_age: Option<u64>,
    /// The key the authority signs its log with; default DB.key beside the store (made
    /// there for a store that has none yet).
    #[arg(long, value_name = "FILE", requires = "authority")]
    pub signing_key: Option<PathBuf>,
    /// Addresses a provider delivers alike, for the self-review rule (off unless given;
    /// repeat for more): `dots@DOMAIN` (dots in a local part at DOMAIN do not count, as
    /// Gmail's `gmail.com`), `tag=C` (C starts a tag, as `+` always does: `tag=-`).
    #[arg(long = "same-address", value_name = "RULE", requires = "authority")]
    pub address_rules: Vec<String>,
    /// The address clients reach this server at (`https://ports.example.org`): with
    /// https, the web queue's session cookie is `__Host-` prefixed and `Secure`.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Connections served at once; past it, only `/healthz` is answered. One client
    /// address holds at most a sixteenth of them.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    pub max_connections: u32,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryArg,
}

/// `portreg convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The registry file to read; `-` or nothing reads standard input.
    pub input: Option<PathBuf>,
    /// The input's format; detected from the content when not given.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub from: Option<Format>,
    /// The output's format, or an export (parquet, zeek, logstash).
    #[arg(long, value_name = "FORMAT", value_parser = parse_target)]
    pub to: ConvertTarget,
    /// Where to write; standard output when not given.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: Option<PathBuf>,
    /// Stop at the first line that cannot be read (exit code 2) instead of warning.
    #[arg(long)]
    pub strict: bool,
    /// Print no warnings for skipped lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `portreg man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write portreg.1 and a portreg-COMMAND.1 page for every command into this folder.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `portreg completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The procedures under which a System port may be assigned (RFC 6335 §8.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Procedure {
    /// IETF Review.
    IetfReview,
    /// IESG Approval.
    IesgApproval,
}

impl Procedure {
    /// The procedure's token, as the authority stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Procedure::IetfReview => "ietf-review",
            Procedure::IesgApproval => "iesg-approval",
        }
    }
}

fn parse_range(text: &str) -> Result<PortSpan, String> {
    RangeClass::parse_range(text).ok_or_else(|| {
        format!("{text:?} is not a range: user, system, dynamic, or LO-HI (such as 8000-8999)")
    })
}

fn parse_date(text: &str) -> Result<RegistryDate, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a date: YYYY-MM-DD or YYYY-MM"))
}

/// What `convert --to` writes: a registry format, or an export for another engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvertTarget {
    /// A registry format, read back by portreg.
    Registry(Format),
    /// Parquet, one row per record (written by `portreg-admin`).
    Parquet,
    /// A Zeek input-framework table.
    Zeek,
    /// A Logstash translate dictionary.
    Logstash,
}

fn parse_target(id: &str) -> Result<ConvertTarget, String> {
    match id {
        "parquet" => Ok(ConvertTarget::Parquet),
        "zeek" => Ok(ConvertTarget::Zeek),
        "logstash" => Ok(ConvertTarget::Logstash),
        other => parse_format(other)
            .map(ConvertTarget::Registry)
            .map_err(|error| format!("{error}; or an export: parquet, zeek, logstash")),
    }
}

fn parse_format(id: &str) -> Result<Format, String> {
    id.parse()
        .map_err(|e: portreg::format::UnknownFormat| e.to_string())
}

fn parse_column() -> impl clap::builder::TypedValueParser<Value = portreg::answer_table::Column> {
    use clap::builder::TypedValueParser;
    use portreg::answer_table::Column;
    clap::builder::PossibleValuesParser::new(Column::ALL.map(Column::as_str))
        .try_map(|name| name.parse::<Column>())
}

fn parse_transport(token: &str) -> Result<Transport, String> {
    Transport::known(token.trim())
        .ok_or_else(|| format!("{token:?} is not a transport protocol: use tcp, udp, sctp or dccp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path answers exactly as clap would, and only where it can.
    #[test]
    fn a_plain_lookup_is_read_as_clap_reads_it() {
        let plain: &[&[&str]] = &[
            &["22"],
            &["ssh"],
            &["22/tcp", "ssh/udp", "6000-6010", "_ssh._tcp"],
            &["SSH", "lookup-not", "xyz"],
            &["22", "443"],
        ];
        for args in plain {
            let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
            let fast = Cli::plain_lookup(&argv).expect("a plain lookup");
            let clap = Cli::try_parse_from(std::iter::once("portreg").chain(args.iter().copied()))
                .expect("clap reads it");
            assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "{args:?}");
        }
        let others: &[&[&str]] = &[
            &[],
            &["--json"],
            &["22", "-f", "json"],
            &["-t", "tcp", "22"],
            &["search", "sql"],
            &["help"],
            &["22", "info"],
            &["22", ""],
            &["--", "22"],
            &["-"],
        ];
        for args in others {
            let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
            assert!(Cli::plain_lookup(&argv).is_none(), "{args:?}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let not_utf8 = [OsString::from_vec(vec![0x73, 0xff])];
            assert!(Cli::plain_lookup(&not_utf8).is_none());
        }
    }
}
