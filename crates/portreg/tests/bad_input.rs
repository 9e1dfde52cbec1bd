//! Bad and awkward input: located errors in strict mode, warnings in lenient mode,
//! every encoding and line ending the real files use.

use portreg::format::{self, Format, ReadOptions};
use portreg::Transport;

fn strict_error(text: &[u8], format: Format) -> String {
    let options = ReadOptions {
        strict: true,
        source_name: "in.txt".into(),
    };
    format::read(text, format, &options)
        .expect_err("strict read should fail")
        .to_string()
}

fn lenient(text: &[u8], format: Format) -> portreg::format::ReadOutcome {
    format::read(text, format, &ReadOptions::default()).expect("lenient read")
}

#[test]
fn strict_errors_name_file_line_column_expected_and_found() {
    let cases: [(&[u8], Format, &str); 9] = [
        (b"ssh 22/tcp\nbad 7x/tcp\n", Format::Services, "in.txt:2:5: expected a port or range before '/', found \"7x/tcp\""),
        (b"ssh 22/t@p\n", Format::Services, "in.txt:1:5: expected a protocol name after '/', found \"22/t@p\""),
        (b"ssh\t22/tcp\t1.5\n", Format::Nmap, "in.txt:1:12: expected an open frequency from 0 to 1, found \"1.5\""),
        (b"[{\"port_low\": 70000}]", Format::Json, "in.txt:1:19: expected a JSON array of records (invalid value: integer `70000`, expected u16)"),
        (b"{\"name\": 1}\n", Format::Jsonl, "in.txt:1:10: expected a JSON record"),
        (
            b"(last updated 2008-02-29)\nKeyword Decimal\nfoo     12x/tcp   Foo\n",
            Format::Legacy,
            "in.txt:3:1: expected an entry \"keyword port/protocol description\", found \"foo     12x/tcp   Foo\"",
        ),
        (
            b"Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\r\nx,99999,tcp,,,,,,,,,\r\n",
            Format::IanaCsv,
            "in.txt:2:3: expected a port or range, found \"99999\"",
        ),
        (
            b"<registry xmlns=\"http://www.iana.org/assignments\">\n  <record>\n    <number>80-70</number>\n  </record>\n</registry>\n",
            Format::IanaXml,
            "in.txt:3:5: expected a range whose first port is not above its last, found \"80-70\"",
        ),
        (b"<registry>\n  <record>\n</registry>\n", Format::IanaXml, "in.txt:3:1: expected well-formed XML"),
    ];
    for (text, format, message) in cases {
        let error = strict_error(text, format);
        assert!(
            error.starts_with(message),
            "{format}: {error}\n  does not start with: {message}"
        );
    }
}

#[test]
fn lenient_reads_skip_bad_lines_and_report_each() {
    let outcome = lenient(
        b"ssh 22/tcp\nbad 7x/tcp\nworse\nhttp 80/tcp www\n",
        Format::Services,
    );
    assert_eq!(outcome.registry.records.len(), 2);
    let lines: Vec<usize> = outcome.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [2, 3]);
}

#[test]
fn latin1_crlf_nbsp_and_no_final_newline() {
    // The 2004-2006 IANA lists are Latin-1 with CRLF line ends.
    let text = b"(last updated 2004-01-08)\r\n\r\nKeyword Decimal\r\ncaf\xe9-svc\xa0\xa0 7/tcp    Caf\xe9 service\r\n#      Ren\xe9 M\xfcller <rene@example.org>";
    let outcome = lenient(text, Format::Legacy);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    let record = &outcome.registry.records[0];
    assert_eq!(record.name.as_deref(), Some("caf\u{e9}-svc"));
    assert_eq!(record.description.as_deref(), Some("Caf\u{e9} service"));
    assert_eq!(
        record.contacts,
        ["Ren\u{e9} M\u{fc}ller <rene@example.org>"]
    );
    assert_eq!(record.transport, Some(Transport::Tcp));
}

#[test]
fn empty_and_garbage_inputs_never_panic() {
    for format in Format::ALL {
        for input in [
            &b""[..],
            b"\n",
            b"\xff\xfe\x00",
            b"#",
            b"[",
            b"<",
            b"{",
            b"\r\n\r\n",
            b"   7/tcp",
        ] {
            let _ = format::read(input, format, &ReadOptions::default());
            let _ = format::read(
                input,
                format,
                &ReadOptions {
                    strict: true,
                    ..ReadOptions::default()
                },
            );
        }
    }
}
