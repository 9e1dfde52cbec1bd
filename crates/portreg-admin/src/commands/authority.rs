//! `portreg authority ...`: the assignment authority over a SQLite store.

use std::path::Path;

use anyhow::{Context, Result};
use portreg::format;
use portreg_authority::{
    Actor, Authority, AuthorityError, Decision, NewRequest, RequestState, Role,
};
use serde_json::Value;

use portreg_cli::active::read_file;
use portreg_cli::cli::{
    AuthorityArgs, AuthorityCommand, Common, IdentityRole, OutputFormat, RequestArgs, UserCommand,
};
use portreg_cli::output::{Item, Output, PLAIN, PORT};
use portreg_cli::store::Store;
use portreg_cli::{CommandResult, Exit, Failure};

/// Runs the command.
pub fn run(args: &AuthorityArgs, common: &Common) -> CommandResult {
    let db = match &args.db {
        Some(path) => path.clone(),
        None => match Store::locate() {
            Some(store) => store.dir().join("authority.sqlite"),
            None => {
                return Err(Failure::usage(
                    "no data directory for the store: give --db PATH",
                ))
            }
        },
    };
    // At the store's file, the process's user is the administrator: named by its user
    // id, never by a flag or `$USER`, which anyone sets.
    set_address_rules(&args.address_rules)?;
    let actor = Actor::local(&process_user());
    let key = args
        .signing_key
        .clone()
        .unwrap_or_else(|| portreg_authority::log::default_key_path(&db));
    outcome(&args.command, &db, &key, &actor, common).map_err(|error| {
        match error.downcast_ref::<AuthorityError>() {
            // A time given on the command line that cannot be: the command is wrong.
            Some(AuthorityError::Invalid {
                field: "expires", ..
            }) => Failure::usage(format!("--expires: {error}")),
            Some(refusal) if refusal.is_refusal() => Failure::refused(error),
            _ => Failure::from(error),
        }
    })
}

/// Compares addresses by the providers' rules given (`--same-address`).
pub fn set_address_rules(rules: &[String]) -> Result<(), Failure> {
    let rules = rules
        .iter()
        .map(|rule| rule.parse())
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| Failure::usage(format!("--same-address {e}")))?;
    portreg_authority::party::set_address_rules(rules);
    Ok(())
}

/// The user this process runs as, from its user id (not `$USER`, which anyone sets).
fn process_user() -> String {
    // SAFETY: getuid cannot fail; getpwuid_r writes only into the buffers given.
    let uid = unsafe { libc::getuid() };
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let status = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status == 0 && !found.is_null() && !entry.pw_name.is_null() {
        // SAFETY: pw_name points into `buffer`, NUL-terminated, as getpwuid_r returned.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
        return name.to_string_lossy().into_owned();
    }
    format!("uid:{uid}")
}

fn role(role: IdentityRole) -> Role {
    match role {
        IdentityRole::Requester => Role::Requester,
        IdentityRole::Expert => Role::Expert,
        IdentityRole::Admin => Role::Admin,
    }
}

fn outcome(
    command: &AuthorityCommand,
    db: &Path,
    key: &Path,
    actor: &Actor,
    common: &Common,
) -> Result<Exit> {
    let mut out = Output::new(common);
    match command {
        AuthorityCommand::Init { from } => {
            let registry = from.as_deref().map(read_file).transpose()?;
            if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            let mut authority = Authority::init(db, registry.as_ref(), actor)?;
            let public = authority.use_signing_key(key)?;
            let records = registry.as_ref().map_or(0, |r| r.records.len());
            println!("portreg: created {} with {records} records", db.display());
            println!(
                "portreg: its log is signed with {} (public key {public})",
                key.display()
            );
        }
        AuthorityCommand::Request(request) => {
            let mut authority = Authority::open(db)?;
            let id = authority.request(&new_request(request), actor)?;
            let filed = authority.request_by_id(id, actor)?;
            let place = filed
                .request
                .port
                .map_or("name only".to_owned(), |p| format!("port {p}"));
            let transports: Vec<&str> = filed
                .request
                .transports
                .iter()
                .map(|t| t.as_str())
                .collect();
            println!(
                "request {id} filed: {} {place}/{} (pending review)",
                filed.request.name,
                transports.join(",")
            );
        }
        AuthorityCommand::Review {
            id,
            approve,
            deny,
            changes,
            comment,
            version,
        } => {
            let decision = match (approve, deny, changes) {
                (true, _, _) => Decision::Approve,
                (_, true, _) => Decision::Deny,
                (_, _, true) => Decision::Changes,
                _ => {
                    return Err(AuthorityError::Refused(
                        "give the decision: --approve, --deny or --changes".into(),
                    )
                    .into())
                }
            };
            let (decided, created) =
                Authority::open(db)?.review(*id, decision, comment.as_deref(), *version, actor)?;
            match decision {
                Decision::Approve => {
                    println!("request {id} approved: {} record(s) created", created.len());
                    let items: Vec<Item> = created.into_iter().map(Item::from).collect();
                    out.records(&items)?;
                }
                _ => println!("request {id} {}", decided.state.as_str()),
            }
        }
        AuthorityCommand::Withdraw { id } => {
            Authority::open(db)?.withdraw(*id, actor)?;
            println!("request {id} withdrawn");
        }
        AuthorityCommand::User { command } => return user(command, db, actor, &mut out),
        AuthorityCommand::Verify { head, against, key } => {
            let mut authority = Authority::open(db)?;
            if let Some(key) = key {
                let text = std::fs::read_to_string(key).unwrap_or_else(|_| key.clone());
                let public = match portreg_authority::log::LogKey::from_verifier_key(&text) {
                    Ok(log_key) => log_key.key,
                    Err(_) => portreg_authority::log::verifying_key(&text)
                        .map_err(|e| anyhow::anyhow!("--key: {e}"))?,
                };
                authority.expect_key(public);
            }
            // A checkpoint kept elsewhere (a file holding its signed note) is checked
            // against the log; a chain head (`ID:HASH`, as published) is found in it.
            let note = head
                .as_deref()
                .filter(|h| !h.contains(':') || Path::new(h).is_file())
                .and_then(|h| std::fs::read_to_string(h).ok());
            let chain_head = if note.is_some() {
                None
            } else {
                head.as_deref()
            };
            let mut report = authority.verify(chain_head)?;
            if let (None, Some(note)) = (&report.problem, note) {
                report.problem = authority.check_checkpoint(&note)?.err();
            }
            let problem = match (report.problem, against) {
                (Some(problem), _) => Some(problem),
                (None, Some(url)) => super::log::check_against(&authority, url).err(),
                (None, None) => None,
            };
            return Ok(match problem {
                None => {
                    println!(
                        "portreg: the log is whole and every table agrees with it: {} entries, head {}{}",
                        report.rows,
                        report.head,
                        against.as_ref().map_or(String::new(), |url| format!(
                            "; consistent with {url}"
                        ))
                    );
                    Exit::Success
                }
                Some(problem) => {
                    eprintln!("portreg: the log does not verify: {problem}");
                    Exit::NotFound
                }
            });
        }
        AuthorityCommand::Key => {
            let key = Authority::open(db)?.public_key()?.ok_or_else(|| {
                AuthorityError::NotFound("the store signs with no key yet".into())
            })?;
            println!("{key}");
        }
        AuthorityCommand::Deassign { subject, reason } => {
            let count = Authority::open(db)?.deassign(subject, reason.as_deref(), actor)?;
            println!("{subject}: {count} record(s) de-assigned, their ports Reserved");
        }
        AuthorityCommand::Revoke { subject, reason } => {
            let count = Authority::open(db)?.revoke(subject, reason, actor)?;
            println!("{subject}: {count} record(s) revoked, their ports Reserved");
        }
        AuthorityCommand::Transfer { name, to } => {
            let count = Authority::open(db)?.transfer(name, to, actor)?;
            println!("{name}: {count} record(s) transferred to {to}");
        }
        AuthorityCommand::History { subject, since } => {
            let since = since.as_ref().map(portreg::RegistryDate::as_str);
            let entries = Authority::open(db)?.history(subject.as_deref(), since)?;
            if out.format == OutputFormat::Table {
                let rows: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        vec![
                            (e.at.clone(), PLAIN),
                            (e.actor.clone(), PLAIN),
                            (e.action.clone(), PORT),
                            (e.subject.clone(), PLAIN),
                            (e.outcome.clone(), PLAIN),
                            (e.detail.clone(), PLAIN),
                        ]
                    })
                    .collect();
                out.table(
                    &["AT", "ACTOR", "ACTION", "SUBJECT", "OUTCOME", "DETAIL"],
                    &rows,
                )?;
            } else {
                out.json(&Value::Array(entries.iter().map(|e| e.to_json()).collect()))?;
            }
            if entries.is_empty() {
                return Ok(Exit::NotFound);
            }
        }
        AuthorityCommand::Publish { to, output } => {
            let mut authority = Authority::open(db)?;
            authority.use_signing_key(key)?;
            let registry = authority.published()?;
            // JSON is published as a document, so that it names its history as XML and
            // the compiled form do; CSV and services files have no place for it.
            let text = match to {
                format::Format::Json => format::write_json_document(&registry),
                _ => format::write(&registry, *to),
            };
            match output {
                Some(path) => {
                    std::fs::write(path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "portreg: published {} records as {to} to {}",
                        registry.records.len(),
                        path.display()
                    );
                }
                None => out.text(&text)?,
            }
        }
        AuthorityCommand::List { all, records } => {
            let authority = Authority::open(db)?;
            if *records {
                let items: Vec<Item> = authority
                    .registry()?
                    .records
                    .into_iter()
                    .map(Item::from)
                    .collect();
                return print_records(&mut out, &items);
            }
            let requests = authority.requests(
                if *all {
                    None
                } else {
                    Some(RequestState::Pending)
                },
                actor,
            )?;
            if out.format == OutputFormat::Table {
                let rows: Vec<_> = requests
                    .iter()
                    .map(|r| {
                        let transports: Vec<&str> =
                            r.request.transports.iter().map(|t| t.as_str()).collect();
                        vec![
                            (r.id.to_string(), PORT),
                            (r.state.as_str().to_owned(), PLAIN),
                            (r.request.name.clone(), PLAIN),
                            (r.request.port.map_or("-".into(), |p| p.to_string()), PLAIN),
                            (r.requester.clone(), PLAIN),
                            (transports.join(","), PLAIN),
                            (r.request.assignee.clone(), PLAIN),
                            (r.request.description.clone(), PLAIN),
                        ]
                    })
                    .collect();
                out.table(
                    &[
                        "ID",
                        "STATE",
                        "NAME",
                        "PORT",
                        "REQUESTER",
                        "TRANSPORT",
                        "ASSIGNEE",
                        "DESCRIPTION",
                    ],
                    &rows,
                )?;
            } else {
                out.json(&Value::Array(
                    requests.iter().map(|r| r.to_json()).collect(),
                ))?;
            }
            if requests.is_empty() {
                return Ok(Exit::NotFound);
            }
        }
        AuthorityCommand::Show { subject } => {
            let authority = Authority::open(db)?;
            match subject.parse::<i64>() {
                Ok(id) => {
                    let request = authority.request_by_id(id, actor)?.to_json();
                    if out.format == OutputFormat::Table {
                        let fields: Vec<(&str, String)> = request
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(key, value)| {
                                let text = match value {
                                    Value::String(text) => text.clone(),
                                    Value::Null => "-".to_owned(),
                                    other => other.to_string(),
                                };
                                (key.as_str(), text)
                            })
                            .collect();
                        out.fields(&fields)?;
                    } else {
                        out.json(&request)?;
                    }
                }
                Err(_) => {
                    let records = authority.records_named(subject)?;
                    if records.is_empty() {
                        return Err(AuthorityError::NotFound(format!(
                            "no service named {subject:?}"
                        ))
                        .into());
                    }
                    let items: Vec<Item> = records.into_iter().map(Item::from).collect();
                    return print_records(&mut out, &items);
                }
            }
        }
        AuthorityCommand::Backup { file } => {
            Authority::open(db)?.backup(file)?;
            println!("portreg: backed {} up to {}", db.display(), file.display());
        }
    }
    Ok(Exit::Success)
}

fn print_records(out: &mut Output, items: &[Item]) -> Result<Exit> {
    out.records(items)?;
    Ok(if items.is_empty() {
        Exit::NotFound
    } else {
        Exit::Success
    })
}

/// `user add|list|revoke|role`.
fn user(command: &UserCommand, db: &Path, actor: &Actor, out: &mut Output) -> Result<Exit> {
    let mut authority = Authority::open(db)?;
    match command {
        UserCommand::Add {
            name,
            role: wanted,
            email,
            expires,
            ttl,
        } => {
            let expires = match (expires, ttl) {
                (Some(when), _) => Some(when.clone()),
                (None, Some(seconds)) => Some(portreg_authority::time_after(*seconds)),
                (None, None) => None,
            };
            let token = authority.add_user(
                name,
                role(*wanted),
                email.as_deref(),
                expires.as_deref(),
                actor,
            )?;
            let until = expires.map_or(String::new(), |e| format!(", until {e}"));
            eprintln!(
                "portreg: identity {name} ({}{until}) made; its API token, shown this once:",
                wanted.as_str()
            );
            println!("{token}");
        }
        UserCommand::List => {
            let users = authority.users()?;
            if out.format == OutputFormat::Table {
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| {
                        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                        vec![
                            (u.name.clone(), PORT),
                            (u.role.as_str().to_owned(), PLAIN),
                            (or_dash(&u.email), PLAIN),
                            (u.created.clone(), PLAIN),
                            (or_dash(&u.expires), PLAIN),
                            (or_dash(&u.revoked), PLAIN),
                        ]
                    })
                    .collect();
                out.table(
                    &["NAME", "ROLE", "EMAIL", "CREATED", "EXPIRES", "REVOKED"],
                    &rows,
                )?;
            } else {
                out.json(&Value::Array(users.iter().map(|u| u.to_json()).collect()))?;
            }
            if users.is_empty() {
                return Ok(Exit::NotFound);
            }
        }
        UserCommand::Revoke { name } => {
            authority.revoke_user(name, actor)?;
            println!("portreg: identity {name} revoked; its token no longer works");
        }
        UserCommand::Role { name, role: wanted } => {
            authority.set_role(name, role(*wanted), actor)?;
            println!("portreg: identity {name} is now {}", wanted.as_str());
        }
    }
    Ok(Exit::Success)
}

fn new_request(args: &RequestArgs) -> NewRequest {
    NewRequest {
        name: args.name.clone(),
        transports: args.transport.clone(),
        port: args.port,
        any_port: args.any_port,
        range: args.range,
        description: args.description.clone(),
        assignee: args.assignee.clone(),
        contact: args.contact.clone(),
        reference: args.reference.clone(),
        txt_keys: args.txt_keys.clone(),
        procedure: args.procedure.map(|p| p.as_str().to_owned()),
        reuse: args.reuse,
    }
}
