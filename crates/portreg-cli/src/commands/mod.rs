//! One module a command; `run` dispatches. `serve`, `update` and `authority` live in
//! `portreg-admin`, which [`hand_over`] runs.

pub mod about;
pub mod check_local;
pub mod check_name;
pub mod convert;
pub mod diff;
pub mod enrich;
pub mod free;
pub mod history;
pub mod info;
pub mod lookup;
pub mod nss;
pub mod search;

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;

use crate::cli::{Cli, Command, Common};
use crate::{CommandResult, Exit, Failure};

/// Runs the command the arguments name; the administrative ones are handed over to
/// `portreg-admin`.
pub fn run(cli: Cli) -> CommandResult {
    match &cli.command {
        None => lookup::run(
            &cli.lookup,
            &Common::records(&cli.lookup.output, &cli.lookup.source),
        ),
        Some(Command::Lookup(args)) => {
            lookup::run(args, &Common::records(&args.output, &args.source))
        }
        Some(Command::Search(args)) => {
            search::run(args, &Common::records(&args.output, &args.source))
        }
        Some(Command::Info(args)) => {
            info::run(args, &Common::report(&args.output, Some(&args.source)))
        }
        Some(Command::Free(args)) => {
            free::run(args, &Common::report(&args.output, Some(&args.source)))
        }
        Some(Command::Diff(args)) => diff::run(args, &Common::report(&args.output, None)),
        Some(Command::CheckName(args)) => {
            check_name::run(args, &Common::with_registry(&args.output, &args.registry))
        }
        Some(Command::CheckLocal(args)) => {
            check_local::run(&Common::with_registry(&args.output, &args.registry))
        }
        Some(Command::History(args)) => history::run(args),
        Some(Command::About(args)) => {
            about::run(&Common::with_registry(&args.output, &args.registry))
        }
        Some(Command::Serve(_) | Command::Authority(_) | Command::Update(_)) => hand_over(),
        Some(Command::Convert(args)) => convert::run(args),
        Some(Command::Nss(args)) => nss::run(args),
        Some(Command::Enrich(args)) => enrich::run(args),
        Some(Command::Completions(args)) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "portreg",
                &mut std::io::stdout(),
            );
            Ok(Exit::Success)
        }
        Some(Command::Man(args)) => man(args.dir.as_deref()),
    }
}

/// What every command's exit status means.
const MAN_EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
The command did what was asked, or found what was asked for.
.TP
\fB1\fR
Nothing was found, or the answer is no (\fBcheck\-name\fR: the name is taken or invalid;
the authority: a request refused, a conflict).
.TP
\fB2\fR
Bad usage, or input that cannot be read (the message says the file, line and column).
"#;

/// What portreg reads from its environment and the file system, for every page.
const MAN_ENVIRONMENT_AND_FILES: &str = r#".SH ENVIRONMENT
.TP
\fBPORTREG_DATA_DIR\fR
Where \fBportreg update\fR installs the registry and \fBportreg authority\fR keeps its store; else \fB$XDG_DATA_HOME/portreg\fR, else \fB~/.local/share/portreg\fR.
.TP
\fBPORTREG_CONFIG_DIR\fR
Local names are read from its \fBlocal.d\fR folder; when unset, from \fB$XDG_CONFIG_HOME/portreg/local.d\fR (\fB~/.config/portreg/local.d\fR) and \fB/etc/portreg/local.d\fR.
.TP
\fBXDG_DATA_HOME\fR, \fBXDG_CONFIG_HOME\fR, \fBHOME\fR
The defaults of the two folders above.
.TP
\fBNO_COLOR\fR
Set and not empty: no colour, whatever \fB--color auto\fR would choose.
.TP
\fBCOLUMNS\fR
The width tables wrap to when standard output is not a terminal.
.TP
\fBRUST_LOG\fR
\fBportreg serve\fR: which access and server logs are written (\fBinfo\fR by default, \fBwarn\fR for none).
.SH FILES
.TP
\fI~/.local/share/portreg/registry.bin\fR
The registry installed by \fBportreg update\fR (compiled form), used while it is not older than the built-in one; \fIregistry.previous.bin\fR is the one before, \fIstate.json\fR what the server said, \fIupdate.lock\fR serialises updates.
.TP
\fI~/.local/share/portreg/authority.sqlite\fR
The assignment authority's store (\fB--db\fR chooses another).
.TP
\fI/etc/portreg/local.d/*.services\fR, \fI*.json\fR
An organisation's own names, services(5) or JSON records, shown labelled \fBlocal\fR; also \fI~/.config/portreg/local.d/\fR.
.TP
\fI/usr/share/nmap/nmap-services\fR
nmap's services table, for \fB--unofficial\fR, \fBinfo\fR and \fBfree --avoid-popular\fR (\fB--nmap\fR chooses another).
.TP
\fI/proc/sys/net/ipv4/ip_local_port_range\fR, \fIip_local_reserved_ports\fR, \fI/proc/net/tcp\fR, \fItcp6\fR, \fIudp\fR, \fIudp6\fR
This machine's ephemeral and reserved ports and its listening sockets, for \fBfree\fR and \fBinfo\fR.
"#;

/// `portreg man`: the main page on standard output, or every page into a folder. Each
/// page has NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXAMPLES (and NOTES) from the command's
/// help, EXIT STATUS, ENVIRONMENT and FILES.
fn man(dir: Option<&std::path::Path>) -> CommandResult {
    let command = Cli::command();
    let main = man_page(&command)?;
    let Some(dir) = dir else {
        std::io::stdout().write_all(&main)?;
        return Ok(Exit::Success);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    let mut write = |name: &str, page: &[u8]| -> CommandResult {
        let path = dir.join(name);
        std::fs::write(&path, page)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
        Ok(Exit::Success)
    };
    write("portreg.1", &main)?;
    for sub in command.get_subcommands() {
        let name = format!("portreg-{}", sub.get_name());
        let page = man_page(
            &sub.clone()
                .name(name.clone())
                .bin_name(format!("portreg {}", sub.get_name())),
        )?;
        write(&format!("{name}.1"), &page)?;
    }
    let mut out = std::io::stdout().lock();
    for path in written {
        writeln!(out, "{}", path.display())?;
    }
    Ok(Exit::Success)
}

/// One page: clap_mangen's sections, then the help's examples and notes, exit status,
/// environment and files.
fn man_page(command: &clap::Command) -> std::io::Result<Vec<u8>> {
    // A command's arguments and examples are made when it is built (clap's `defer`).
    let mut command = command.clone();
    command.build();
    let command = &command;
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut page)?;
    }
    if command.get_subcommands().next().is_some() {
        man.render_subcommands_section(&mut page)?;
    }
    let after = command
        .get_after_help()
        .map(|text| text.to_string())
        .unwrap_or_default();
    // Paragraphs headed "Example(s):" are the examples; the others are notes.
    let (mut examples, mut notes) = (Vec::new(), Vec::new());
    for paragraph in after.split("\n\n").filter(|p| !p.trim().is_empty()) {
        match paragraph.split_once('\n') {
            Some((head, rest)) if head.starts_with("Example") => examples.push(rest.to_owned()),
            _ => notes.push(paragraph.to_owned()),
        }
    }
    for (heading, blocks) in [("EXAMPLES", &examples), ("NOTES", &notes)] {
        if blocks.is_empty() {
            continue;
        }
        writeln!(page, ".SH {heading}")?;
        for block in blocks.iter() {
            writeln!(page, ".PP\n.nf")?;
            for line in block.lines() {
                writeln!(page, "{}", roff_line(line))?;
            }
            writeln!(page, ".fi")?;
        }
    }
    page.extend_from_slice(MAN_EXIT_STATUS.as_bytes());
    page.extend_from_slice(MAN_ENVIRONMENT_AND_FILES.as_bytes());
    Ok(page)
}

/// A line of text as roff shows it as it is: backslashes and minus signs escaped, and a
/// leading dot or quote kept from being read as a request.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The admin binary's name.
pub const ADMIN: &str = "portreg-admin";

/// How to get `portreg-admin`, for the message when it is missing.
const HOW_TO_GET_ADMIN: &str = "it is built beside portreg by `cargo build --release` in \
portreg's source tree (then use target/release/portreg), or installed with \
`cargo install --path crates/portreg-admin`";

/// Runs the same arguments with `portreg-admin`, found beside this executable, else on
/// the PATH. On Unix the process becomes it, so its exit status is this one's.
pub(crate) fn hand_over() -> CommandResult {
    let beside = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(ADMIN))
        .filter(|path| path.is_file());
    let program: PathBuf = beside.unwrap_or_else(|| PathBuf::from(ADMIN));
    let mut command = std::process::Command::new(&program);
    command.args(std::env::args_os().skip(1));
    let missing = |error: std::io::Error| {
        Failure::usage(format!(
            "this command is run by {ADMIN}, which cannot be run ({error}): {HOW_TO_GET_ADMIN}"
        ))
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(missing(command.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(missing)?;
        std::process::exit(status.code().unwrap_or(2));
    }
}
