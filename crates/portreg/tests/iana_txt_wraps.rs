//! IANA's plain text wraps a long name over several lines, and a row's first line may hold
//! only the start of its name, above the line with the port. Rows around such a wrap read
//! right whatever the trailing whitespace of the lines (padded to the width or not).

use portreg::format::{self, Format, ReadOptions};

// IANA's column labels, laid out as in its 2013 text.
const HEADER: [&str; 3] = [
    "                            Transport                                                                                                                                                                        Registration Modification                              Service       Known",
    " Service Name   Port Number Protocol          Description                                             Assignee                                                              Contact                              Date         Date              Reference             Code    Unauthorized                        Assignment Notes",
    "                                                                                                                                                                                                                                                                                  Uses",
];

/// A row's line in the columns of `HEADER`.
fn row(name: &str, port: &str, protocol: &str, description: &str, assignee: &str) -> String {
    format!("{name:<19}{port:<11}{protocol:<7}{description:<29}{assignee}")
}

/// The table: datusorb, then Apple Remote Desktop (Net Assistant) wrapped over three
/// lines with its port on the middle one, twice (tcp, udp), then 4talk.
fn layout(pad: Option<usize>) -> String {
    let mut lines: Vec<String> = vec![
        "Service Name and Transport Protocol Port Number Registry".into(),
        String::new(),
    ];
    lines.extend(HEADER.iter().map(|l| l.to_string()));
    for protocol in ["tcp", "udp"] {
        lines.push(row(
            "datusorb",
            "3282",
            protocol,
            "Datusorb",
            "[Thomas_Martin]",
        ));
    }
    for protocol in ["tcp", "udp"] {
        lines.push("Apple Remote".into());
        lines.push(row(
            "Desktop (Net",
            "3283",
            protocol,
            "Net Assistant",
            "[Michael_Stein]",
        ));
        lines.push("Assistant)".into());
    }
    for protocol in ["tcp", "udp"] {
        lines.push(row("4talk", "3284", protocol, "4Talk", "[Tony_Bushnell]"));
    }
    let lines: Vec<String> = lines
        .into_iter()
        .map(|line| match pad {
            Some(width) => format!("{line:<width$}"),
            None => line.trim_end().to_owned(),
        })
        .collect();
    lines.join("\n") + "\n"
}

#[test]
fn wrapped_names_read_right_in_every_layout() {
    for pad in [None, Some(120), Some(200)] {
        let text = layout(pad);
        let options = ReadOptions {
            strict: true,
            source_name: "<layout>".into(),
        };
        let registry = format::read(text.as_bytes(), Format::IanaTxt, &options)
            .unwrap_or_else(|e| panic!("{pad:?}: {e}"))
            .registry;
        let names: Vec<(String, u16)> = registry
            .records
            .iter()
            .map(|r| (r.name.clone().unwrap_or_default(), r.ports.unwrap().low))
            .collect();
        let expected: Vec<(String, u16)> = [
            ("datusorb", 3282),
            ("datusorb", 3282),
            ("Apple Remote Desktop (Net Assistant)", 3283),
            ("Apple Remote Desktop (Net Assistant)", 3283),
            ("4talk", 3284),
            ("4talk", 3284),
        ]
        .iter()
        .map(|(n, p)| (n.to_string(), *p))
        .collect();
        assert_eq!(names, expected, "padding {pad:?}:\n{text}");
    }
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn the_shared_2013_text_reads_the_wrapped_names() {
    let Some(path) = portreg_testing::shared("data/iana/service-names-port-numbers.txt") else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let registry = format::read(&bytes, Format::IanaTxt, &ReadOptions::default())
        .unwrap()
        .registry;
    let at = |port: u16| -> Vec<String> {
        registry
            .records
            .iter()
            .filter(|r| r.ports.is_some_and(|p| p.low == port))
            .map(|r| r.name.clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(at(3282), ["datusorb", "datusorb"]);
    assert_eq!(
        at(3283),
        [
            "Apple Remote Desktop (Net Assistant)",
            "Apple Remote Desktop (Net Assistant)"
        ]
    );
}
