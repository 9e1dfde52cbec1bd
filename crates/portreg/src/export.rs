//! Exports for the engines that join flows at scale: a Zeek input-framework table and a
//! Logstash translate dictionary, both keyed by port and transport. (Parquet, for DuckDB
//! and Spark, is written by `portreg-admin`: its crates are too heavy for a lookup.)
//!
//! Every (port, transport) the registry names is one entry, ranges expanded to each
//! port; the name is the one `portreg enrich`, the Python package and the name service
//! give ([`AnswerTable`]). Ports with no name have no entry.

use crate::answer_table::AnswerTable;
use crate::{CompiledRegistry, RangeClass, Service};

/// Every named (port, transport): port order, then tcp, udp, sctp, dccp.
pub fn services(registry: &CompiledRegistry) -> impl Iterator<Item = Service<'_>> + '_ {
    const PROTOCOLS: [&str; 4] = ["tcp", "udp", "sctp", "dccp"];
    let answers = AnswerTable::new(registry);
    (0..PROTOCOLS.len() << 16).filter_map(move |at| {
        let (port, slot) = ((at / PROTOCOLS.len()) as u16, at % PROTOCOLS.len());
        let record = answers.record(slot, port)?;
        Some(Service {
            name: record.name()?,
            record,
            port,
            protocol: PROTOCOLS[slot],
        })
    })
}

/// A Zeek input-framework table (Zeek's TSV, as its ASCII reader reads it):
/// `service_port` (a Zeek `port`, `22/tcp`), `name`, `description`, `status`,
/// `range_class`, `source`.
pub fn zeek_table(registry: &CompiledRegistry) -> String {
    let mut out = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tportreg\n\
         #fields\tservice_port\tname\tdescription\tstatus\trange_class\tsource\n\
         #types\tport\tstring\tstring\tstring\tstring\tstring\n",
    );
    for service in services(registry) {
        let record = service.record;
        let fields = [
            format!("{}/{}", service.port, service.protocol),
            zeek_value(Some(service.name)),
            zeek_value(record.description()),
            record.status().as_str().to_owned(),
            RangeClass::of(service.port).as_str().to_owned(),
            record.source().as_str().to_owned(),
        ];
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    out
}

/// A value as Zeek's ASCII reader takes it: `-` unset, `(empty)` empty, the separator,
/// backslash and control characters as `\xHH`.
fn zeek_value(value: Option<&str>) -> String {
    match value {
        None => "-".to_owned(),
        Some("") => "(empty)".to_owned(),
        Some(text) => {
            let mut out = String::with_capacity(text.len());
            for c in text.chars() {
                if c == '\\' || c.is_control() {
                    let mut bytes = [0u8; 4];
                    for byte in c.encode_utf8(&mut bytes).bytes() {
                        out.push_str(&format!("\\x{byte:02x}"));
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// A Logstash translate-filter dictionary (YAML): `"22/tcp": "ssh"`, one line each.
pub fn logstash_dictionary(registry: &CompiledRegistry) -> String {
    let mut out = String::from(
        "# portreg: service names by \"port/transport\", for Logstash's translate filter\n",
    );
    for service in services(registry) {
        // A JSON string is a YAML double-quoted scalar.
        out.push_str(&format!(
            "\"{}/{}\": {}\n",
            service.port,
            service.protocol,
            serde_json::to_string(service.name).unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_and_values_are_escaped() {
        let registry = CompiledRegistry::embedded();
        let table = zeek_table(registry);
        assert!(table
            .contains("\n22/tcp\tssh\tThe Secure Shell (SSH) Protocol\tassigned\tsystem\tiana\n"));
        assert!(table.contains("\n4250/udp\tvrml-multi-use\t"));
        assert!(!table.contains("\n49152/tcp"));
        let rows = table.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(rows, services(registry).count());
        assert!(table
            .lines()
            .all(|l| l.starts_with('#') || l.split('\t').count() == 6));
        assert_eq!(zeek_value(Some("a\tb\\")), "a\\x09b\\x5c");
        let dictionary = logstash_dictionary(registry);
        assert!(dictionary.contains("\n\"443/tcp\": \"https\"\n"));
        assert_eq!(dictionary.lines().count(), rows + 1);
    }
}
